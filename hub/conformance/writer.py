"""What the kit needs to put records on a chain before checking an adapter: a Writer.

An adapter only reads and delivers, so the kit needs another way to create
records that it then expects the adapter to find. An integrator passes a Writer of
their own to `run_suite`, or names existing records with `--seed NAMESPACE/KEY`
(then the clauses that need new blocks are skipped). The devnets' writers live with
the development tooling (`tonglian_tools.conformance_writers`).
"""

from __future__ import annotations

from typing import Any, Protocol

SCHEMA = "tonglian.conformance/v1"


class Writer(Protocol):
    # The namespace the adapter reads the written records under.
    namespace: str

    async def write(self, key: str, value: dict[str, Any]) -> int:
        """Writes the next version of `key`; returns the height of the block that holds it
        once that block exists (finality is the kit's to wait for, through the adapter)."""
        ...

    async def close(self) -> None: ...
