"""Per-test adapter on the session's Fabric network (fixtures from devnets.fabric.fixtures)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.protobuf import json_format

from adapters.base import AdapterContext
from adapters.fabric import FabricAdapter, create_adapter
from devnets.base import DevnetInfo
from tonglian.v1 import chains_pb2


@pytest.fixture
async def fabric_adapter(fabric_network: DevnetInfo) -> AsyncIterator[FabricAdapter]:
    options: dict[str, Any] = fabric_network.chain["adapter"]["options"]
    adapter = create_adapter(AdapterContext(chain_id="fabric-1", options=options, timeout=15))
    try:
        yield adapter
    finally:
        await adapter.close()


@pytest.fixture
def fabric_anchor(fabric_network: DevnetInfo) -> chains_pb2.FabricTrustAnchor:
    chain = json_format.ParseDict(fabric_network.chain, chains_pb2.Chain())
    return chain.trust_anchor.fabric
