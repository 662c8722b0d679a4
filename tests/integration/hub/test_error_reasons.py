"""Each ErrorInfo reason a real hub can be made to send cheaply, through the SDK (exception
class, reason, metadata) and through the CLI as a user runs it (exit code, message).

Reasons that need a lying adapter or a tampered store are checked over the mapping in
tests/unit/hub/test_error_reasons.py.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from hub import pki
from hub.cli import exit_codes
from tonglian_client.client import AsyncClient
from tonglian_client.credentials import Credentials
from tonglian_client.errors import (
    AlreadyExists,
    ChainUnavailable,
    ClientError,
    HubUnreachable,
    InvalidRequest,
    NotFound,
    PolicyDenied,
)
from tonglian_tools.hub_process import HubProcess

pytestmark = pytest.mark.integration

VALIDATOR = "11" * 32
DOWN = "down-1"


async def tonglian(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-P", "-m", "hub.cli.main", *args,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode() + err.decode()


async def raised(call: object) -> ClientError:
    with pytest.raises(ClientError) as err:
        await call  # type: ignore[misc]
    return err.value


async def add_down_chain(hub: HubProcess) -> tuple[int, str]:
    """A signed-Merkle chain whose ledger URL nothing serves: the hub answers, the chain not."""
    return await tonglian(
        "--hub", hub.address, "chains", "add", "custom", "--chain-id", DOWN,
        "--url", "http://127.0.0.1:1", "--ledger-id", "l", "--validator", f"v1={VALIDATOR}",
        "--threshold", "1", "--timeout-ms", "3000",
    )  # fmt: skip


async def test_reasons_through_sdk_and_cli(hub_process: HubProcess, tmp_path: Path) -> None:
    hub = hub_process
    assert hub.credentials is not None
    code, out = await add_down_chain(hub)
    assert code == exit_codes.OK, out

    async with AsyncClient(hub.address, hub.credentials) as sdk:
        # ALREADY_EXISTS
        err = await raised(sdk.register_chain(await sdk.get_chain(DOWN)))
        assert type(err) is AlreadyExists and err.reason == "ALREADY_EXISTS"
        # NOT_FOUND
        err = await raised(sdk.get_chain("ghost"))
        assert type(err) is NotFound and err.reason == "NOT_FOUND"
        assert str(err).startswith("NOT_FOUND: no chain 'ghost' is registered;")
        # INVALID_REQUEST
        err = await raised(sdk.get_record(f"{DOWN}/ns/k", purpose=""))
        assert type(err) is InvalidRequest and err.reason == "INVALID_REQUEST"
        assert "purpose is required" in str(err)
        # CHAIN_UNAVAILABLE: the hub is up, the chain is not; metadata names the chain.
        err = await raised(sdk.chain_status(DOWN))
        assert type(err) is ChainUnavailable and err.reason == "CHAIN_UNAVAILABLE"
        assert err.metadata == {"chain_id": DOWN}
        assert f"chain '{DOWN}' is unreachable" in str(err)

    code, out = await add_down_chain(hub)
    assert code == exit_codes.CONFLICT and "ALREADY_EXISTS: chain 'down-1'" in out, out
    code, out = await tonglian("--hub", hub.address, "chains", "show", "ghost")
    assert code == exit_codes.NOT_FOUND and "no chain 'ghost' is registered" in out, out
    code, out = await tonglian("--hub", hub.address, "query", f"{DOWN}/ns/k")
    assert code == exit_codes.USAGE, out
    assert "the following arguments are required: --purpose" in out, out
    code, out = await tonglian("--hub", hub.address, "query", f"{DOWN}/ns/k", "--purpose", "t")
    assert code == exit_codes.UNAVAILABLE, out
    assert f"chain '{DOWN}' is unreachable" in out and "cannot reach the hub" not in out, out

    # POLICY_DENIED: an agency no rule lets read; given by flags, not by the environment.
    agency = pki.issue(hub.pki_dir, "clerk", org="some-office", role="agency")
    ca = hub.pki_dir / pki.CA_CERT
    async with AsyncClient(hub.address, Credentials(agency.cert, agency.key, ca)) as sdk:
        err = await raised(sdk.get_record(f"{DOWN}/ns/k", purpose="t"))
        assert type(err) is PolicyDenied and err.reason == "POLICY_DENIED"
        assert "no rule allows some-office to read down-1/ns" in str(err)
        err = await raised(sdk.list_routes())
        assert type(err) is PolicyDenied
        assert "tonglian.v1.Relay.ListRoutes needs operator rights" in str(err)
    flags = ["--cert", str(agency.cert), "--key", str(agency.key), "--ca", str(ca)]
    code, out = await tonglian("--hub", hub.address, *flags, "routes", "list")
    assert code == exit_codes.DENIED and "needs operator rights" in out, out
    code, out = await tonglian(
        "--hub", hub.address, *flags, "query", f"{DOWN}/ns/k", "--purpose", "t"
    )
    assert code == exit_codes.DENIED and "no rule allows some-office" in out, out


async def test_no_hub_is_not_a_chain_down(tmp_path: Path, hub_process: HubProcess) -> None:
    """Nothing listens: HubUnreachable, told apart from CHAIN_UNAVAILABLE without any text."""
    async with AsyncClient("127.0.0.1:1", hub_process.credentials) as sdk:
        err = await raised(sdk.list_chains())
    assert type(err) is HubUnreachable and err.reason == ""
    code, out = await tonglian("--hub", "127.0.0.1:1", "chains", "list")
    assert code == exit_codes.UNAVAILABLE
    assert "cannot reach the hub at 127.0.0.1:1: is `tonglian serve` running?" in out
