"""Revocations shared through the store: a CRL another replica published revokes here;
one that a CA this replica trusts did not sign (the same CA name, another key) revokes
nothing, and does not displace the real CA's CRL in the store."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from hub import pki
from hub.authentication import Authenticator
from hub.errors import Unauthenticated
from hub.store.sqlite import SqliteStore


async def shared(authenticator: Authenticator, store: SqliteStore) -> asyncio.Task[None]:
    task = asyncio.create_task(authenticator.share_through(store))
    await authenticator.shared_once()
    return task


async def test_a_crl_published_by_another_replica_revokes_here_and_a_forged_one_does_not(
    tmp_path: Path,
) -> None:
    ours, other_replica, impostor = tmp_path / "pki", tmp_path / "pki-b", tmp_path / "evil"
    pki.init_ca(ours)
    shutil.copytree(ours, other_replica)  # the same CA, the other replica's copy
    pki.init_ca(impostor)  # same CA name, another key
    agent = pki.issue(ours, "agent-1", org="city-tax", role="agency")
    pem = agent.cert.read_bytes()
    store = SqliteStore(tmp_path / "hub.sqlite3")
    await store.open()
    here = Authenticator.from_files(ours / pki.CA_CERT, ours / pki.CRL)
    there = Authenticator.from_files(other_replica / pki.CA_CERT, other_replica / pki.CRL)
    tasks = [await shared(here, store), await shared(there, store)]
    try:
        # The impostor CA "revokes" the agent and puts its CRL in the store: nothing.
        pki.write_crl(impostor, [agent.serial])
        forged = Authenticator.from_files(impostor / pki.CA_CERT, impostor / pki.CRL)
        tasks.append(await shared(forged, store))
        await asyncio.sleep(1.2)  # past the store's re-read
        assert here.authenticate(pem).agency == "city-tax"

        # The operator revokes it beside the other replica: refused here too.
        pki.revoke(other_replica, agent.cert)
        for _ in range(40):
            await asyncio.sleep(0.05)
            try:
                here.authenticate(pem)
            except Unauthenticated as exc:
                assert str(exc).startswith(
                    f"client certificate 'CN=agent-1,OU=agency,O=city-tax' (serial "
                    f"{agent.serial:x}) was revoked on "
                )
                break
        else:
            pytest.fail("the revocation beside the other replica did not reach this one in 2s")
        assert (ours / pki.CRL).read_bytes() != (other_replica / pki.CRL).read_bytes()
        assert len(await store.crls()) == 2  # the real CA's and the impostor's, apart
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await store.close()
