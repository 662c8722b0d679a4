"""Per-test adapter on the session's Fabric network (fixtures from devnets.fabric.fixtures)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from google.protobuf import json_format

from adapters.fabric import FabricAdapter
from devnets.base import DevnetInfo
from devnets.fabric.client import devnet_adapter
from tonglian.v1 import chains_pb2


@pytest.fixture
async def fabric_adapter(fabric_network: DevnetInfo) -> AsyncIterator[FabricAdapter]:
    adapter = devnet_adapter(fabric_network, "fabric-1")
    try:
        yield adapter
    finally:
        await adapter.close()


@pytest.fixture
def fabric_anchor(fabric_network: DevnetInfo) -> chains_pb2.FabricTrustAnchor:
    chain = json_format.ParseDict(fabric_network.chain, chains_pb2.Chain())
    return chain.trust_anchor.fabric
