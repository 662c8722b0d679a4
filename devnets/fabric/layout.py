"""The plan of one Fabric devnet: names, ports and where every file lives.

Chosen once by `up` and saved to `STATE/plan.json`, so `status`, `down` and a
test that stops one peer all see the same network from any process.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from devnets.process import free_port

DOMAIN = "tonglian.local"
CHANNEL = "tonglian"
CHAINCODE = "records"
CHAINCODE_VERSION = "1.0"
# Short, so a write commits well under a second (Fabric's default is 2 s).
BATCH_TIMEOUT = "200ms"


class OrgPlan(BaseModel):
    name: str  # "Org1"
    msp_id: str  # "Org1MSP"
    domain: str  # "org1.tonglian.local"
    peer_port: int
    chaincode_port: int
    operations_port: int

    @property
    def peer_host(self) -> str:
        return f"peer0.{self.domain}"

    @property
    def peer_endpoint(self) -> str:
        return f"127.0.0.1:{self.peer_port}"

    @property
    def process_name(self) -> str:
        return f"peer0-{self.name.lower()}"


class OrdererPlan(BaseModel):
    msp_id: str = "OrdererMSP"
    domain: str = f"orderer.{DOMAIN}"
    port: int
    admin_port: int
    operations_port: int

    @property
    def host(self) -> str:
        return f"orderer0.{self.domain}"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    process_name: str = "orderer0"


class NetworkPlan(BaseModel):
    state_dir: Path
    channel: str = CHANNEL
    chaincode: str = CHAINCODE
    orderer: OrdererPlan
    orgs: list[OrgPlan]
    chaincode_server_port: int
    package_id: str = ""

    @classmethod
    def fresh(cls, state_dir: Path) -> NetworkPlan:
        """A plan with free ports: each process listens on its own."""
        orgs = [
            OrgPlan(
                name=f"Org{i}",
                msp_id=f"Org{i}MSP",
                domain=f"org{i}.{DOMAIN}",
                peer_port=free_port(),
                chaincode_port=free_port(),
                operations_port=free_port(),
            )
            for i in (1, 2)
        ]
        orderer = OrdererPlan(port=free_port(), admin_port=free_port(), operations_port=free_port())
        return cls(
            state_dir=state_dir, orderer=orderer, orgs=orgs, chaincode_server_port=free_port()
        )

    # --- files -----------------------------------------------------------------------------

    @property
    def process_dir(self) -> Path:
        """Logs and pid files of the processes `up` started (devnets.process layout)."""
        return self.state_dir / "processes"

    @property
    def crypto_dir(self) -> Path:
        return self.state_dir / "crypto"

    @property
    def config_dir(self) -> Path:
        """FABRIC_CFG_PATH of every process: our core.yaml, orderer.yaml and configtx.yaml."""
        return self.state_dir / "config"

    @property
    def genesis_block(self) -> Path:
        return self.state_dir / "channel" / f"{self.channel}.block"

    @property
    def orderer_org_dir(self) -> Path:
        return self.crypto_dir / "ordererOrganizations" / self.orderer.domain

    @property
    def orderer_node_dir(self) -> Path:
        return self.orderer_org_dir / "orderers" / self.orderer.host

    @property
    def orderer_tls_ca(self) -> Path:
        return self.orderer_node_dir / "tls" / "ca.crt"

    @property
    def orderer_admin_dir(self) -> Path:
        return self.orderer_org_dir / "users" / f"Admin@{self.orderer.domain}"

    def org(self, msp_id_or_name: str) -> OrgPlan:
        for org in self.orgs:
            if msp_id_or_name in (org.msp_id, org.name, org.process_name):
                return org
        raise KeyError(msp_id_or_name)

    def org_dir(self, org: OrgPlan) -> Path:
        return self.crypto_dir / "peerOrganizations" / org.domain

    def peer_dir(self, org: OrgPlan) -> Path:
        return self.org_dir(org) / "peers" / org.peer_host

    def peer_tls_ca(self, org: OrgPlan) -> Path:
        return self.peer_dir(org) / "tls" / "ca.crt"

    def user_dir(self, org: OrgPlan, user: str) -> Path:
        """`user` is "Admin" or "User1"; cryptogen names them USER@DOMAIN."""
        return self.org_dir(org) / "users" / f"{user}@{org.domain}"

    def user_cert(self, org: OrgPlan, user: str) -> Path:
        signcerts = self.user_dir(org, user) / "msp" / "signcerts"
        return next(signcerts.glob("*.pem"))

    def user_key(self, org: OrgPlan, user: str) -> Path:
        return next((self.user_dir(org, user) / "msp" / "keystore").glob("*_sk"))

    def data_dir(self, process_name: str) -> Path:
        return self.state_dir / "data" / process_name

    # --- persistence -----------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self.state_dir / "plan.json"

    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.path.write_text(self.model_dump_json(indent=2))

    @classmethod
    def load(cls, state_dir: Path) -> NetworkPlan | None:
        try:
            return cls.model_validate(json.loads((state_dir / "plan.json").read_text()))
        except (OSError, ValueError):
            return None
