"""FabricDevnet: brings the whole Fabric network up, reports its status, takes it down.

`up` runs the steps in order (crypto, channel config, orderer, peers, channel,
chaincode), each through its own module, saves the plan and a DevnetInfo whose
`chain` is a tonglian.v1.Chain ready for RegisterChain.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

from google.protobuf import json_format

from adapters.fabric.options import (
    FabricAdapterOptions,
    IdentityOption,
    PeerOption,
)
from adapters.fabric.registration import fabric_chain
from devnets.base import DevnetInfo, DevnetStatus, ProcessInfo, Progress, load_info, save_info
from devnets.fabric import channel, channel_config, crypto, lifecycle, orderer, peers
from devnets.fabric.binaries import FabricRelease, require_release
from devnets.fabric.client import devnet_adapter
from devnets.fabric.layout import NetworkPlan, OrgPlan
from devnets.process import DevnetError, ProcessHandle, is_alive, read_pid, stop, wait_until
from tonglian.v1 import chains_pb2

CHAIN_ID = "fabric-1"


class FabricDevnet:
    """One Raft orderer; Org1 and Org2 with a peer each; channel `tonglian`; chaincode `records`."""

    kind = "fabric"

    def __init__(self, state_dir: Path, release: FabricRelease | None = None) -> None:
        self.state_dir = state_dir
        self._release = release

    @property
    def release(self) -> FabricRelease:
        if self._release is None:
            self._release = require_release()
        return self._release

    def plan(self) -> NetworkPlan:
        plan = NetworkPlan.load(self.state_dir)
        if plan is None:
            raise DevnetError(f"no Fabric devnet state in {self.state_dir}; run `up` first")
        return plan

    async def up(self, progress: Progress) -> DevnetInfo:
        release = self.release  # fails first, with the install hint, when Fabric is missing
        started = time.monotonic()
        await self.down()
        for sub in ("crypto", "config", "channel", "chaincode", "data", "processes"):
            shutil.rmtree(self.state_dir / sub, ignore_errors=True)
        plan = NetworkPlan.fresh(self.state_dir)
        plan.save()
        handles: list[ProcessHandle] = []
        try:
            progress("crypto: cryptogen (orderer org, Org1, Org2; NodeOUs on)")
            await crypto.generate(release, plan)
            progress("channel config: configtx.yaml from the release template, genesis block")
            peers.write_config(release, plan)
            await channel_config.genesis_block(release, plan)

            progress(f"orderer: starting on {plan.orderer.endpoint}")
            orderer_handle = await orderer.start(release, plan)
            handles.append(orderer_handle)
            await orderer.join_channel(release, plan, orderer_handle)

            progress("peers: " + ", ".join(f"{o.msp_id} {o.peer_endpoint}" for o in plan.orgs))
            handles += await peers.start_all(release, plan)

            progress(f"channel: joining {plan.channel}")
            await channel.join_peers(release, plan)

            progress(f"chaincode: {plan.chaincode} (ccaas), install, approve, commit")
            package = lifecycle.write_package(plan)
            plan.package_id = await lifecycle.package_id(release, plan, package)
            plan.save()
            server = lifecycle.start_server(plan)
            handles.append(server)
            await lifecycle.wait_server(plan, server)
            await lifecycle.install_approve_commit(release, plan, package)
            await lifecycle.wait_ready(release, plan)
            progress("gateways: waiting until each peer's gateway sees both organisations")
            info = self._info(plan, handles)
            await self._wait_gateways(info)
        except BaseException:
            await self.down()
            raise
        save_info(self.state_dir, info)
        progress(f"ready in {time.monotonic() - started:.1f}s")
        return info

    async def _wait_gateways(self, info: DevnetInfo) -> None:
        adapter = await asyncio.to_thread(devnet_adapter, info, CHAIN_ID)

        async def endorsed() -> bool:
            await adapter.probe_endorsement("get", "tonglian:ready")
            return True

        try:
            await wait_until(endorsed, timeout=30, what="gateway discovery", interval=0.5)
        finally:
            await adapter.close()

    def _info(self, plan: NetworkPlan, handles: list[ProcessHandle]) -> DevnetInfo:
        org1 = plan.orgs[0]
        options = FabricAdapterOptions(
            channel=plan.channel,
            chaincode=plan.chaincode,
            peers=[
                PeerOption(
                    endpoint=org.peer_endpoint,
                    msp_id=org.msp_id,
                    tls_root_cert_pem=plan.peer_tls_ca(org).read_text(),
                )
                for org in plan.orgs
            ],
            identity=IdentityOption(
                msp_id=org1.msp_id,
                cert_pem=plan.user_cert(org1, "User1").read_text(),
            ),
            qscc_orgs=[org.msp_id for org in plan.orgs],
        )
        chain = fabric_chain(
            CHAIN_ID,
            options,
            plan.genesis_block.read_bytes(),
            display_name="Fabric devnet (Org1, Org2)",
            endorsement_policies={plan.chaincode: lifecycle.endorsement_policy(plan)},
            qscc_min_orgs=len(plan.orgs),
            identity_key=chains_pb2.SecretRef(file=str(plan.user_key(org1, "User1"))),
        )
        return DevnetInfo(
            kind=self.kind,
            processes=[ProcessInfo(name=h.name, pid=h.pid, log=str(h.log_path)) for h in handles],
            endpoints={
                "orderer": plan.orderer.endpoint,
                "orderer_admin": f"127.0.0.1:{plan.orderer.admin_port}",
                **{org.process_name: org.peer_endpoint for org in plan.orgs},
                "chaincode_server": f"127.0.0.1:{plan.chaincode_server_port}",
            },
            chain=json_format.MessageToDict(chain),
            extra={
                "channel": plan.channel,
                "chaincode": plan.chaincode,
                "package_id": plan.package_id,
                "config_block": str(plan.genesis_block),
                "orderer_tls_ca": str(plan.orderer_tls_ca),
                "users": {
                    org.msp_id: {
                        user: {
                            "cert": str(plan.user_cert(org, user)),
                            "key": str(plan.user_key(org, user)),
                        }
                        for user in ("User1", "Admin")
                    }
                    for org in plan.orgs
                },
            },
        )

    def _process_names(self, plan: NetworkPlan | None) -> list[str]:
        if plan is None:
            return []
        return [
            lifecycle.SERVER_PROCESS,
            *(org.process_name for org in plan.orgs),
            plan.orderer.process_name,
        ]

    @staticmethod
    def _alive(plan: NetworkPlan, name: str) -> bool:
        pid = read_pid(plan.process_dir, name)
        return pid is not None and is_alive(pid)

    async def down(self) -> bool:
        """Stops every process `up` started (chaincode server, peers, then the orderer)."""
        plan = NetworkPlan.load(self.state_dir)
        if plan is None:
            return False
        stopped = False
        for name in self._process_names(plan):
            stopped |= await asyncio.to_thread(stop, plan.process_dir, name)
        return stopped

    async def status(self) -> DevnetStatus:
        plan = NetworkPlan.load(self.state_dir)
        if plan is None or load_info(self.state_dir) is None:
            return DevnetStatus(kind=self.kind, running=False, detail="not started")
        names = self._process_names(plan)
        alive = {
            n: (pid := read_pid(plan.process_dir, n)) is not None and is_alive(pid) for n in names
        }
        heights: dict[str, int] = {}
        problems = [f"{n} is not running" for n, ok in alive.items() if not ok]
        for org in plan.orgs:
            if not alive[org.process_name]:
                continue
            try:
                heights[org.process_name] = await channel.height(self.release, plan, org)
            except DevnetError as exc:
                problems.append(f"{org.process_name}: {exc}")
        running = all(alive.values())
        detail = "; ".join(problems) if problems else f"channel {plan.channel} up"
        return DevnetStatus(kind=self.kind, running=running, heights=heights, detail=detail)

    # --- for tests of failure handling -----------------------------------------------------

    async def stop_peer(self, msp_id: str) -> None:
        """Stops one organisation's peer (its ledger stays), e.g. to see ChainUnavailable."""
        plan = self.plan()
        await asyncio.to_thread(stop, plan.process_dir, plan.org(msp_id).process_name)

    async def start_peer(self, msp_id: str) -> ProcessHandle:
        """Starts a stopped peer again on its ledger and ports, and waits until it is healthy."""
        plan = self.plan()
        org: OrgPlan = plan.org(msp_id)
        return await peers.start(self.release, plan, org)
