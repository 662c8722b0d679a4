"""The fabric adapter a devnet's own tools use (tests, benchmarks, the demo's writer):
built from the devnet's chain description as the hub builds it from a registration,
its identity key read from the file the description references (`identity_key`)."""

from __future__ import annotations

from pathlib import Path

from google.protobuf.json_format import MessageToDict, ParseDict

from adapters.base import AdapterContext, Secret
from adapters.fabric import FabricAdapter, create_adapter
from adapters.fabric.options import IDENTITY_KEY
from devnets.base import DevnetInfo
from tonglian.v1 import chains_pb2
from tonglian_client.secret_files import read_secret_file


def devnet_adapter(info: DevnetInfo, chain_id: str, timeout: float = 15.0) -> FabricAdapter:
    """A FabricAdapter on the devnet `info` describes, signing as its client identity."""
    chain = ParseDict(info.chain, chains_pb2.Chain())
    key = read_secret_file(Path(chain.adapter.secrets[IDENTITY_KEY].file))
    return create_adapter(
        AdapterContext(
            chain_id=chain_id,
            options=MessageToDict(chain.adapter.options),
            secrets={IDENTITY_KEY: Secret(key.decode())},
            timeout=timeout,
        )
    )
