"""The single Raft orderer: its environment, start, and channel join over the admin API.

v3 has no system channel: the orderer starts empty and joins the channel with
`osnadmin channel join` (mutual TLS to the admin endpoint). Before the first
transaction it must have a Raft leader, else it answers SERVICE_UNAVAILABLE.
"""

from __future__ import annotations

from devnets.fabric.binaries import FabricRelease
from devnets.fabric.commands import run
from devnets.fabric.layout import NetworkPlan
from devnets.fabric.probes import healthz, listening, log_contains
from devnets.process import ProcessHandle, spawn, wait_until


def environment(plan: NetworkPlan) -> dict[str, str]:
    node = plan.orderer_node_dir
    tls = node / "tls"
    data = plan.data_dir(plan.orderer.process_name)
    o = plan.orderer
    return {
        "FABRIC_CFG_PATH": str(plan.config_dir),
        "FABRIC_LOGGING_SPEC": "INFO",
        "ORDERER_GENERAL_LISTENADDRESS": "127.0.0.1",
        "ORDERER_GENERAL_LISTENPORT": str(o.port),
        "ORDERER_GENERAL_LOCALMSPID": o.msp_id,
        "ORDERER_GENERAL_LOCALMSPDIR": str(node / "msp"),
        "ORDERER_GENERAL_TLS_ENABLED": "true",
        "ORDERER_GENERAL_TLS_PRIVATEKEY": str(tls / "server.key"),
        "ORDERER_GENERAL_TLS_CERTIFICATE": str(tls / "server.crt"),
        "ORDERER_GENERAL_TLS_ROOTCAS": f"[{tls / 'ca.crt'}]",
        "ORDERER_CHANNELPARTICIPATION_ENABLED": "true",
        "ORDERER_FILELEDGER_LOCATION": str(data / "ledger"),
        "ORDERER_CONSENSUS_WALDIR": str(data / "etcdraft" / "wal"),
        "ORDERER_CONSENSUS_SNAPDIR": str(data / "etcdraft" / "snapshot"),
        "ORDERER_OPERATIONS_LISTENADDRESS": f"127.0.0.1:{o.operations_port}",
        "ORDERER_ADMIN_LISTENADDRESS": f"127.0.0.1:{o.admin_port}",
        "ORDERER_ADMIN_TLS_ENABLED": "true",
        "ORDERER_ADMIN_TLS_PRIVATEKEY": str(tls / "server.key"),
        "ORDERER_ADMIN_TLS_CERTIFICATE": str(tls / "server.crt"),
        "ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED": "true",
        "ORDERER_ADMIN_TLS_CLIENTROOTCAS": f"[{tls / 'ca.crt'}]",
        "ORDERER_METRICS_PROVIDER": "disabled",
    }


async def start(release: FabricRelease, plan: NetworkPlan) -> ProcessHandle:
    handle = spawn(
        plan.orderer.process_name,
        [release.command("orderer")],
        plan.process_dir,
        env=environment(plan),
    )
    await wait_until(
        lambda: healthz(plan.orderer.operations_port),
        timeout=20,
        what="the orderer's operations endpoint",
        process=handle,
    )
    for port in (plan.orderer.admin_port, plan.orderer.port):
        await wait_until(
            lambda port=port: listening(port),  # type: ignore[misc]
            timeout=20,
            what=f"the orderer listening on {port}",
            process=handle,
        )
    return handle


async def join_channel(release: FabricRelease, plan: NetworkPlan, handle: ProcessHandle) -> None:
    """Joins the channel from its genesis block, then waits for the Raft leader."""
    admin_tls = plan.orderer_admin_dir / "tls"
    await run(
        [
            release.command("osnadmin"),
            "channel",
            "join",
            "--channelID",
            plan.channel,
            "--config-block",
            str(plan.genesis_block),
            "-o",
            f"127.0.0.1:{plan.orderer.admin_port}",
            "--ca-file",
            str(plan.orderer_tls_ca),
            "--client-cert",
            str(admin_tls / "client.crt"),
            "--client-key",
            str(admin_tls / "client.key"),
        ]
    )
    phrase = f"Raft leader changed: 0 -> 1 channel={plan.channel}"

    async def leader() -> bool:
        return log_contains(handle.log_path, phrase)

    await wait_until(leader, timeout=20, what="the Raft leader", process=handle)
