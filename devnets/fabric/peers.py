"""The two peers (one per organisation): config, environment, start, and the admin CLI env.

Every setting is an environment override of the release's core.yaml, except the
external builders list, which no variable can set: so each devnet writes its
own copy of core.yaml with the ccaas builder's path.
"""

from __future__ import annotations

import asyncio
import re

import yaml

from devnets.fabric.binaries import FabricRelease
from devnets.fabric.layout import NetworkPlan, OrgPlan
from devnets.fabric.probes import healthz, listening
from devnets.process import DevnetError, ProcessHandle, spawn, wait_until

SAMPLE_BUILDER_PATH = re.compile(r"^(\s*path:\s*)/opt/hyperledger/ccaas_builder\s*$", re.M)


def write_config(release: FabricRelease, plan: NetworkPlan) -> None:
    """core.yaml (builder path set) and orderer.yaml, copied from the release's config/."""
    plan.config_dir.mkdir(parents=True, exist_ok=True)
    core = (release.config / "core.yaml").read_text()
    core, count = SAMPLE_BUILDER_PATH.subn(rf"\g<1>{release.ccaas_builder}", core)
    if count != 1:
        # Not the sample file we know: set the list through YAML instead (comments are lost).
        doc = yaml.safe_load(core)
        doc["chaincode"]["externalBuilders"] = [
            {
                "name": "ccaas_builder",
                "path": str(release.ccaas_builder),
                "propagateEnvironment": ["CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG"],
            }
        ]
        core = yaml.safe_dump(doc, sort_keys=False)
    (plan.config_dir / "core.yaml").write_text(core)
    (plan.config_dir / "orderer.yaml").write_text((release.config / "orderer.yaml").read_text())


def environment(plan: NetworkPlan, org: OrgPlan) -> dict[str, str]:
    node = plan.peer_dir(org)
    data = plan.data_dir(org.process_name)
    return {
        "FABRIC_CFG_PATH": str(plan.config_dir),
        "FABRIC_LOGGING_SPEC": "INFO:gossip=WARNING:grpc=WARNING",
        "CORE_PEER_ID": org.peer_host,
        "CORE_PEER_LOCALMSPID": org.msp_id,
        "CORE_PEER_MSPCONFIGPATH": str(node / "msp"),
        "CORE_PEER_LISTENADDRESS": org.peer_endpoint,
        "CORE_PEER_ADDRESS": org.peer_endpoint,
        "CORE_PEER_CHAINCODELISTENADDRESS": f"127.0.0.1:{org.chaincode_port}",
        "CORE_PEER_CHAINCODEADDRESS": f"127.0.0.1:{org.chaincode_port}",
        "CORE_PEER_GOSSIP_BOOTSTRAP": org.peer_endpoint,
        "CORE_PEER_GOSSIP_EXTERNALENDPOINT": org.peer_endpoint,
        # Find the other organisation's peer within seconds (defaults: 5 s alive, 25 s
        # reconnect), since each gateway must know both to collect endorsements.
        "CORE_PEER_GOSSIP_ALIVETIMEINTERVAL": "1s",
        "CORE_PEER_GOSSIP_ALIVEEXPIRATIONTIMEOUT": "10s",
        "CORE_PEER_GOSSIP_RECONNECTINTERVAL": "2s",
        "CORE_PEER_TLS_ENABLED": "true",
        "CORE_PEER_TLS_CERT_FILE": str(node / "tls" / "server.crt"),
        "CORE_PEER_TLS_KEY_FILE": str(node / "tls" / "server.key"),
        "CORE_PEER_TLS_ROOTCERT_FILE": str(node / "tls" / "ca.crt"),
        "CORE_PEER_FILESYSTEMPATH": str(data / "production"),
        "CORE_LEDGER_SNAPSHOTS_ROOTDIR": str(data / "snapshots"),
        "CORE_OPERATIONS_LISTENADDRESS": f"127.0.0.1:{org.operations_port}",
        "CORE_METRICS_PROVIDER": "disabled",
        "CORE_VM_ENDPOINT": "",
        "CORE_PEER_GATEWAY_ENABLED": "true",
    }


def admin_environment(plan: NetworkPlan, org: OrgPlan) -> dict[str, str]:
    """Environment for `peer` CLI commands run as the organisation's admin against its peer."""
    return {
        "FABRIC_CFG_PATH": str(plan.config_dir),
        "FABRIC_LOGGING_SPEC": "WARNING",
        "CORE_PEER_LOCALMSPID": org.msp_id,
        "CORE_PEER_MSPCONFIGPATH": str(plan.user_dir(org, "Admin") / "msp"),
        "CORE_PEER_ADDRESS": org.peer_endpoint,
        "CORE_PEER_TLS_ENABLED": "true",
        "CORE_PEER_TLS_ROOTCERT_FILE": str(plan.peer_tls_ca(org)),
    }


async def start(release: FabricRelease, plan: NetworkPlan, org: OrgPlan) -> ProcessHandle:
    handle = spawn(
        org.process_name,
        [release.command("peer"), "node", "start"],
        plan.process_dir,
        env=environment(plan, org),
    )
    # Operations answer before the peer's gRPC listener is up: wait for both.
    await wait_until(
        lambda: healthz(org.operations_port),
        timeout=20,
        what=f"{org.process_name}'s operations endpoint",
        process=handle,
    )
    await wait_until(
        lambda: listening(org.peer_port),
        timeout=20,
        what=f"{org.process_name}'s gRPC listener",
        process=handle,
    )
    return handle


async def start_all(release: FabricRelease, plan: NetworkPlan) -> list[ProcessHandle]:
    results = await asyncio.gather(
        *(start(release, plan, org) for org in plan.orgs), return_exceptions=True
    )
    handles = [r for r in results if isinstance(r, ProcessHandle)]
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise DevnetError("; ".join(str(e) for e in errors))
    return handles
