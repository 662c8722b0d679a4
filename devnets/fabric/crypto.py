"""Crypto material from `cryptogen`: one orderer org, two peer orgs, NodeOUs on.

NodeOUs make the roles (peer, client, admin, orderer) OUs of the certificates,
which principals such as `'Org1MSP.peer'` need. SANS 127.0.0.1/localhost let
clients dial 127.0.0.1 over TLS with no host-name override.
"""

from __future__ import annotations

from typing import Any

import yaml

from devnets.fabric.binaries import FabricRelease
from devnets.fabric.commands import run
from devnets.fabric.layout import NetworkPlan

SANS = ["127.0.0.1", "localhost"]


def cryptogen_config(plan: NetworkPlan) -> dict[str, Any]:
    return {
        "OrdererOrgs": [
            {
                "Name": "Orderer",
                "Domain": plan.orderer.domain,
                "EnableNodeOUs": True,
                "Specs": [{"Hostname": "orderer0", "SANS": SANS}],
            }
        ],
        "PeerOrgs": [
            {
                "Name": org.name,
                "Domain": org.domain,
                "EnableNodeOUs": True,
                "Specs": [{"Hostname": "peer0", "SANS": SANS}],
                "Users": {"Count": 1},
            }
            for org in plan.orgs
        ],
    }


async def generate(release: FabricRelease, plan: NetworkPlan) -> None:
    config = plan.state_dir / "crypto-config.yaml"
    config.write_text(yaml.safe_dump(cryptogen_config(plan), sort_keys=False))
    await run(
        [
            release.command("cryptogen"),
            "generate",
            f"--config={config}",
            f"--output={plan.crypto_dir}",
        ]
    )
