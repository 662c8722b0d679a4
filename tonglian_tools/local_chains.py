"""The `tonglian.local_chains` hook: what a running devnet registers as, read from devnet.json."""

from __future__ import annotations

from google.protobuf.json_format import ParseDict, ParseError

from devnets.base import default_state_root, load_info
from hub.cli.local_chains import LocalChain
from hub.errors import InvalidInput
from tonglian.v1 import chains_pb2
from tonglian_tools.conformance_writers import writer_for_devnet


def devnet_chain(kind: str) -> LocalChain:
    """The running devnet of KIND under the state root; InvalidInput when there is none."""
    info = load_info(default_state_root() / kind)
    if info is None or not info.chain:
        raise InvalidInput(
            f"no running {kind} devnet found under {default_state_root()}; "
            f"start one with `tonglian devnet up {kind}`"
        )
    try:
        chain = ParseDict(info.chain, chains_pb2.Chain())
    except ParseError as exc:
        raise InvalidInput(f"{kind} devnet.json holds no valid chain: {exc}") from None
    return LocalChain(chain, lambda: writer_for_devnet(info))
