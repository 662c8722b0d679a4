"""The channel's genesis block: configtx.yaml derived from the release's template, then configtxgen.

The release's `config/configtx.yaml` carries Fabric's defaults for this version
(channel/orderer/application policies, ACLs, capabilities, Raft options). We
keep those sections as they are and replace only what is ours: organisations,
the Raft consenter, the orderer endpoint and a short batch timeout.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from devnets.fabric.binaries import FabricRelease
from devnets.fabric.commands import run
from devnets.fabric.layout import BATCH_TIMEOUT, NetworkPlan, OrgPlan

PROFILE = "TonglianChannel"


def _rule(msp_id: str, *roles: str) -> str:
    return "OR(" + ", ".join(f"'{msp_id}.{role}'" for role in roles) + ")"


def _org_policies(template: dict[str, Any], msp_id: str, *, orderer: bool) -> dict[str, Any]:
    """The template org's policy set, with rules by NodeOU role instead of `member`."""
    policies: dict[str, Any] = copy.deepcopy(template["Policies"])
    if orderer:
        rules = {
            "Readers": _rule(msp_id, "member"),
            "Writers": _rule(msp_id, "member"),
            "Admins": _rule(msp_id, "admin"),
        }
        policies.pop("Endorsement", None)
    else:
        rules = {
            "Readers": _rule(msp_id, "admin", "peer", "client"),
            "Writers": _rule(msp_id, "admin", "client"),
            "Admins": _rule(msp_id, "admin"),
            "Endorsement": _rule(msp_id, "peer"),
        }
    for name, rule in rules.items():
        policies[name] = {"Type": "Signature", "Rule": rule}
    return policies


def configtx(template: dict[str, Any], plan: NetworkPlan) -> dict[str, Any]:
    """configtx.yaml for our channel, built on the release's template."""
    sample_org = template["Organizations"][0]
    orderer_org = {
        "Name": plan.orderer.msp_id,
        "ID": plan.orderer.msp_id,
        "MSPDir": str(plan.orderer_org_dir / "msp"),
        "Policies": _org_policies(sample_org, plan.orderer.msp_id, orderer=True),
        "OrdererEndpoints": [plan.orderer.endpoint],
    }

    def app_org(org: OrgPlan) -> dict[str, Any]:
        return {
            "Name": org.msp_id,
            "ID": org.msp_id,
            "MSPDir": str(plan.org_dir(org) / "msp"),
            "Policies": _org_policies(sample_org, org.msp_id, orderer=False),
            # Anchor peers let each org's gateway discover the other org's peer.
            "AnchorPeers": [{"Host": "127.0.0.1", "Port": org.peer_port}],
        }

    tls = str(plan.orderer_node_dir / "tls" / "server.crt")
    orderer = copy.deepcopy(template["Orderer"])
    orderer.update(
        {
            "OrdererType": "etcdraft",
            "Addresses": [],
            "BatchTimeout": BATCH_TIMEOUT,
            "Organizations": [orderer_org],
        }
    )
    orderer["BatchSize"]["MaxMessageCount"] = 50
    orderer.pop("ConsenterMapping", None)  # BFT only
    orderer["EtcdRaft"]["Consenters"] = [
        {"Host": "127.0.0.1", "Port": plan.orderer.port, "ClientTLSCert": tls, "ServerTLSCert": tls}
    ]
    application = copy.deepcopy(template["Application"])
    application["Organizations"] = [app_org(org) for org in plan.orgs]
    profile = copy.deepcopy(template["Channel"])
    profile["Orderer"] = orderer
    profile["Application"] = application
    return {
        "Organizations": [orderer_org, *application["Organizations"]],
        "Capabilities": copy.deepcopy(template["Capabilities"]),
        "Profiles": {PROFILE: profile},
    }


async def genesis_block(release: FabricRelease, plan: NetworkPlan) -> bytes:
    """Writes configtx.yaml into the config dir and the channel's genesis block; returns it."""
    template = yaml.safe_load((release.config / "configtx.yaml").read_text())
    plan.config_dir.mkdir(parents=True, exist_ok=True)
    (plan.config_dir / "configtx.yaml").write_text(
        yaml.safe_dump(configtx(template, plan), sort_keys=False)
    )
    plan.genesis_block.parent.mkdir(parents=True, exist_ok=True)
    await run(
        [
            release.command("configtxgen"),
            "-configPath",
            str(plan.config_dir),
            "-profile",
            PROFILE,
            "-channelID",
            plan.channel,
            "-outputBlock",
            str(plan.genesis_block),
        ]
    )
    return plan.genesis_block.read_bytes()
