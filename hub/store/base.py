"""The Store interface: what the hub keeps across restarts.

Every write is durable before the call returns, so a caller may acknowledge
work as soon as the store has it (DESIGN principle 4).
"""

from __future__ import annotations

from typing import Protocol

from tonglian.v1 import chains_pb2


class Store(Protocol):
    async def open(self) -> None:
        """Connects and brings the schema up to date (migrations)."""
        ...

    async def close(self) -> None: ...

    async def schema_version(self) -> int: ...

    async def add_chain(self, chain: chains_pb2.Chain) -> None:
        """Stores a new chain; raises hub.errors.AlreadyExists when the id is taken."""
        ...

    async def get_chain(self, chain_id: str) -> chains_pb2.Chain | None: ...

    async def list_chains(self, after: str, limit: int) -> list[chains_pb2.Chain]:
        """Chains ordered by id, strictly after `after`, at most `limit`."""
        ...

    async def remove_chain(self, chain_id: str) -> bool:
        """Deletes a chain; False when there was none."""
        ...
