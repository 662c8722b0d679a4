"""`deliveries show|retry` take a unique prefix of a delivery id: exactly one match, or a
precise refusal (none: the hub's NOT_FOUND; several: the candidates, named)."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from hub.cli.routes import resolve_delivery
from hub.errors import InvalidInput
from tonglian.v1 import relay_pb2
from tonglian_client.errors import NotFound

IDS = ["ab12" + "0" * 60, "ab13" + "1" * 60, "cd00" + "2" * 60]


class Hub:
    """The two calls resolve_delivery makes, over a fixed set of deliveries."""

    async def get_delivery(self, delivery_id: str) -> relay_pb2.Delivery:
        if delivery_id not in IDS:
            raise NotFound(grpc.StatusCode.NOT_FOUND, f"NOT_FOUND: no delivery {delivery_id}")
        return relay_pb2.Delivery(delivery_id=delivery_id)

    async def list_deliveries(self) -> list[relay_pb2.Delivery]:
        return [relay_pb2.Delivery(delivery_id=i) for i in IDS]


def resolve(given: str) -> str:
    return asyncio.run(resolve_delivery(Hub(), given))  # type: ignore[arg-type]


def test_a_full_id_and_a_unique_prefix_name_the_delivery() -> None:
    assert resolve(IDS[2]) == IDS[2]
    assert resolve("cd") == IDS[2]
    assert resolve(IDS[0][:16]) == IDS[0]


def test_an_ambiguous_prefix_names_its_candidates() -> None:
    with pytest.raises(InvalidInput) as refused:
        resolve("ab1")
    assert str(refused.value) == (
        f"delivery id prefix 'ab1' is ambiguous: it starts 2 deliveries ({IDS[0]}, {IDS[1]}); "
        "give more of the id"
    )


def test_no_match_is_the_hubs_not_found() -> None:
    with pytest.raises(NotFound, match="no delivery ee"):
        resolve("ee")
