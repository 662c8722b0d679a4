"""Fixtures over the real custom ledger process that `custom_ledger` starts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from google.protobuf import json_format

from adapters.base import Adapter, AdapterContext
from adapters.custom import create_adapter
from devnets.base import DevnetInfo
from tonglian.v1 import chains_pb2


@pytest.fixture
def chain(custom_ledger: DevnetInfo) -> chains_pb2.Chain:
    """The Chain the devnet says to register, parsed from its proto3 JSON."""
    return json_format.ParseDict(custom_ledger.chain, chains_pb2.Chain())


@pytest.fixture
def url(custom_ledger: DevnetInfo) -> str:
    return custom_ledger.endpoints["http"]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def adapter(chain: chains_pb2.Chain) -> AsyncIterator[Adapter]:
    ctx = AdapterContext(
        chain_id=chain.chain_id,
        options=json_format.MessageToDict(chain.adapter.options),
        trust_anchor=chain.trust_anchor,
        timeout=5.0,
    )
    a = create_adapter(ctx)
    yield a
    await a.close()
