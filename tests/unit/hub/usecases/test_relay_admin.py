"""Route and delivery admin stays within the chains the operator's rule names."""

from __future__ import annotations

import pytest

from hub.errors import InvalidInput, PermissionDenied
from hub.usecases.authorization import Operators
from hub.usecases.relay_admin import RelayAdmin
from tests.unit.hub.usecases.fakes import FakeAudit, Scene, principal
from tonglian.v1 import relay_pb2

SCOPED = principal("evm-ops", "operator")
OPS = principal("ops", "operator")


def route(route_id: str, source: str, destination: str) -> relay_pb2.Route:
    return relay_pb2.Route(
        route_id=route_id, source_chain_id=source, destination_chain_id=destination
    )


class FakeRelay:
    """The routes of a relay in memory; records what was changed."""

    def __init__(self, routes: list[relay_pb2.Route]) -> None:
        self.routes = {r.route_id: r for r in routes}
        self.changed: list[str] = []

    async def get_route(self, route_id: str) -> relay_pb2.Route:
        return self.routes[route_id]

    async def create_route(self, r: relay_pb2.Route) -> relay_pb2.Route:
        self.changed.append(f"create {r.route_id}")
        return r

    async def list_routes(self, after: str, limit: int) -> list[relay_pb2.Route]:
        return sorted((r for k, r in self.routes.items() if k > after), key=lambda r: r.route_id)[
            :limit
        ]

    async def pause(self, route_id: str) -> relay_pb2.Route:
        self.changed.append(f"pause {route_id}")
        return self.routes[route_id]


ROUTES = [
    route("a", "evm-1", "evm-2"),
    route("b", "custom-1", "evm-1"),
    route("c", "evm-3", "evm-1"),
]


@pytest.fixture
def admin(scene: Scene) -> tuple[RelayAdmin, FakeRelay]:
    relay = FakeRelay(ROUTES)
    return RelayAdmin(relay, Operators(scene.policy)), relay  # type: ignore[arg-type]


async def test_a_scoped_operator_is_refused_outside_its_chains(
    admin: tuple[RelayAdmin, FakeRelay], audit: FakeAudit
) -> None:
    relay_admin, relay = admin
    with pytest.raises(PermissionDenied) as refused:
        await relay_admin.pause_route(SCOPED, "b", audit)
    assert str(refused.value) == (
        "rule 'evm-ops-chains' lets evm-ops operate chains ['evm-*'] only, not 'custom-1' "
        "(pause, its source)"
    )
    assert relay.changed == [] and audit.detail == {"rule": "evm-ops-chains"}
    await relay_admin.pause_route(SCOPED, "a", FakeAudit())
    assert relay.changed == ["pause a"]


async def test_routes_out_of_scope_are_left_out_but_the_token_pages_all(
    admin: tuple[RelayAdmin, FakeRelay], audit: FakeAudit
) -> None:
    relay_admin, _ = admin
    page = await relay_admin.list_routes(SCOPED, 2, "", audit)
    assert [r.route_id for r in page.items] == ["a"] and page.next_page_token == "b"
    page = await relay_admin.list_routes(SCOPED, 2, page.next_page_token, FakeAudit())
    assert [r.route_id for r in page.items] == ["c"] and page.next_page_token == ""


async def test_deliveries_of_every_route_need_every_chain(
    admin: tuple[RelayAdmin, FakeRelay], audit: FakeAudit
) -> None:
    relay_admin, _ = admin
    with pytest.raises(PermissionDenied, match=r"list deliveries of every route spans every"):
        await relay_admin.list_deliveries(SCOPED, "", 0, 10, "", audit)


async def test_rights_come_before_the_request_is_checked(
    admin: tuple[RelayAdmin, FakeRelay],
) -> None:
    relay_admin, relay = admin
    with pytest.raises(PermissionDenied, match="needs operator rights"):
        await relay_admin.create_route(principal("ops"), None, FakeAudit())
    with pytest.raises(InvalidInput, match="route is required"):
        await relay_admin.create_route(OPS, None, FakeAudit())
    assert relay.changed == []
