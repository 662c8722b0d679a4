"""Chaincode lifecycle of `records`: ccaas package, its server process, install, approve, commit.

Chaincode as a service: the package holds only `connection.json` (where the
server listens); one server process serves both peers. The definition's
endorsement policy is the AND of both organisations, so a transaction endorsed
by one organisation alone is rejected at commit.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
import tarfile
from importlib.util import find_spec
from pathlib import Path

from devnets.fabric.binaries import FabricRelease
from devnets.fabric.commands import run
from devnets.fabric.layout import CHAINCODE_VERSION, NetworkPlan
from devnets.fabric.peers import admin_environment
from devnets.fabric.probes import listening
from devnets.process import DevnetError, ProcessHandle, spawn, wait_until

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SERVER_PROCESS = "chaincode-records"


def endorsement_policy(plan: NetworkPlan) -> str:
    return "AND(" + ",".join(f"'{org.msp_id}.peer'" for org in plan.orgs) + ")"


def _tar_gz(files: dict[str, bytes]) -> bytes:
    """A gzipped tar with fixed mtimes, so the package id does not change between runs."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def write_package(plan: NetworkPlan) -> Path:
    """`records.tgz`: metadata.json (type ccaas) + code.tar.gz holding connection.json."""
    connection = {
        "address": f"127.0.0.1:{plan.chaincode_server_port}",
        "dial_timeout": "10s",
        "tls_required": False,
    }
    code = _tar_gz({"connection.json": json.dumps(connection).encode()})
    metadata = {"type": "ccaas", "label": f"{plan.chaincode}_{CHAINCODE_VERSION}"}
    path = plan.state_dir / "chaincode" / f"{plan.chaincode}.tgz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_tar_gz({"metadata.json": json.dumps(metadata).encode(), "code.tar.gz": code}))
    return path


async def package_id(release: FabricRelease, plan: NetworkPlan, package: Path) -> str:
    out = await run(
        [release.command("peer"), "lifecycle", "chaincode", "calculatepackageid", str(package)],
        env=admin_environment(plan, plan.orgs[0]),
    )
    return out.strip().splitlines()[-1]


def start_server(plan: NetworkPlan) -> ProcessHandle:
    """The Python chaincode server, in this interpreter (it needs the `chaincode` extra)."""
    if find_spec("fabric_chaincode_python") is None:
        raise DevnetError(
            "the records chaincode needs fabric-chaincode-python: pip install 'tonglian[chaincode]'"
        )
    return spawn(
        SERVER_PROCESS,
        [sys.executable, "-m", "devnets.fabric.chaincode"],
        plan.process_dir,
        env={
            "CHAINCODE_SERVER_ADDRESS": f"127.0.0.1:{plan.chaincode_server_port}",
            "CHAINCODE_ID": plan.package_id,
            "PYTHONPATH": str(PROJECT_ROOT),
        },
        cwd=PROJECT_ROOT,
    )


async def wait_server(plan: NetworkPlan, handle: ProcessHandle) -> None:
    await wait_until(
        lambda: listening(plan.chaincode_server_port),
        timeout=20,
        what="the chaincode server",
        process=handle,
    )


def _orderer_args(plan: NetworkPlan) -> list[str]:
    return ["-o", plan.orderer.endpoint, "--tls", "--cafile", str(plan.orderer_tls_ca)]


async def install_approve_commit(release: FabricRelease, plan: NetworkPlan, package: Path) -> None:
    peer = release.command("peer")
    definition = [
        "--channelID",
        plan.channel,
        "--name",
        plan.chaincode,
        "--version",
        CHAINCODE_VERSION,
        "--sequence",
        "1",
        "--signature-policy",
        endorsement_policy(plan),
    ]
    await asyncio.gather(
        *(
            run(
                [peer, "lifecycle", "chaincode", "install", str(package)],
                env=admin_environment(plan, org),
            )
            for org in plan.orgs
        )
    )
    await asyncio.gather(
        *(
            run(
                [
                    *(peer, "lifecycle", "chaincode", "approveformyorg"),
                    *_orderer_args(plan),
                    *definition,
                    *("--package-id", plan.package_id, "--waitForEvent"),
                ],
                env=admin_environment(plan, org),
            )
            for org in plan.orgs
        )
    )
    targets: list[str] = []
    for org in plan.orgs:
        targets += ["--peerAddresses", org.peer_endpoint]
        targets += ["--tlsRootCertFiles", str(plan.peer_tls_ca(org))]
    await run(
        [peer, "lifecycle", "chaincode", "commit", *_orderer_args(plan), *definition, *targets],
        env=admin_environment(plan, plan.orgs[0]),
    )


async def wait_ready(release: FabricRelease, plan: NetworkPlan) -> None:
    """Until each peer answers a query through the chaincode (it has dialled the server)."""

    async def answers() -> bool:
        await asyncio.gather(
            *(
                run(
                    [
                        release.command("peer"),
                        "chaincode",
                        "query",
                        "-C",
                        plan.channel,
                        "-n",
                        plan.chaincode,
                        "-c",
                        '{"Args":["get","tonglian:ready"]}',
                    ],
                    env=admin_environment(plan, org),
                    deadline=15,
                )
                for org in plan.orgs
            )
        )
        return True

    await wait_until(answers, timeout=30, what="the records chaincode", interval=0.3)
