"""`--from-devnet KIND`: a running local chain's registration, found through an entry point.

The hub knows nothing about devnets. The development tooling (tonglian_tools)
names a function in the `tonglian.local_chains` entry-point group, under `devnet`,
that returns the Chain a running devnet registers as and the conformance kit's
writer for it; `chains add`, `adapter serve` and `adapter check` ask it here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hub.errors import InvalidInput

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from hub.conformance.writer import Writer
    from tonglian.v1 import chains_pb2

GROUP = "tonglian.local_chains"
DEVNET = "devnet"


def _no_writer() -> Writer | None:
    return None


@dataclass(frozen=True)
class LocalChain:
    # The Chain it registers as: id, kind, adapter settings and trust anchor.
    chain: chains_pb2.Chain
    # The conformance kit's writer for it (None: the kit cannot write there).
    writer: Callable[[], Writer | None] = field(default=_no_writer)


def devnet_chain(kind: str, found: Iterable[EntryPoint] | None = None) -> LocalChain:
    """The running devnet of KIND; InvalidInput when none runs or no tooling is installed."""
    from importlib.metadata import entry_points

    eps = entry_points(group=GROUP) if found is None else found
    for ep in eps:
        if ep.name == DEVNET:
            hook: Callable[[str], LocalChain] = ep.load()
            return hook(kind)
    raise InvalidInput(
        "--from-devnet needs the development tooling (tonglian_tools, entry point "
        f"{GROUP}:{DEVNET}), which is not installed here: install tonglian from its "
        "source tree (pip install -e .)"
    )
