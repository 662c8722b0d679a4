"""EvmDevnet: one anvil node from npm with RecordRegistry and Inbox deployed, ready to register.

`up` starts anvil on a free port (interval mining every `block_time` seconds, or
automine when `block_time` is None), deploys the committed contract artifact and
writes a DevnetInfo whose `chain` is a tonglian.v1.Chain in proto3 JSON.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from google.protobuf import json_format
from web3 import AsyncHTTPProvider, AsyncWeb3

from devnets.base import (
    DevnetInfo,
    DevnetStatus,
    ProcessInfo,
    Progress,
    load_info,
    save_info,
    write_secret,
)
from devnets.evm import contracts
from devnets.evm.accounts import DEV_MNEMONIC, OWNER_INDEX, SUBMITTER_INDEX, dev_account
from devnets.evm.tools import anvil_binary
from devnets.process import (
    DevnetError,
    free_port,
    is_alive,
    read_pid,
    spawn,
    stop,
    wait_until,
)
from tonglian.v1 import chains_pb2

PROCESS_NAME = "anvil"
# The submitter's key, 0600 in the state dir. The devnet's Chain names it (SecretRef.file);
# the tools that register it put the file into the chain's store on the hub first.
SUBMITTER_KEY_FILE = "submitter.key"
DEFAULT_BLOCK_TIME = 1.0
DEFAULT_FINALITY_DEPTH = 2
DEFAULT_EVM_CHAIN_ID = 31337


def _block_time_from_env() -> float | None:
    """`TONGLIAN_EVM_BLOCK_TIME` seconds; "0" means automine (one block per transaction)."""
    raw = os.environ.get("TONGLIAN_EVM_BLOCK_TIME")
    if raw is None:
        return DEFAULT_BLOCK_TIME
    seconds = float(raw)
    return None if seconds <= 0 else seconds


class EvmDevnet:
    """An anvil devnet whose state (pid, log, devnet.json) lives in `state_dir`."""

    kind = "evm"

    def __init__(
        self,
        state_dir: Path,
        *,
        block_time: float | str | None = "env",
        finality_depth: int = DEFAULT_FINALITY_DEPTH,
        evm_chain_id: int = DEFAULT_EVM_CHAIN_ID,
        hub_chain_id: str = "evm-1",
        hardfork: str | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.block_time = _block_time_from_env() if block_time == "env" else block_time
        self.finality_depth = finality_depth
        self.evm_chain_id = evm_chain_id
        self.hub_chain_id = hub_chain_id
        self.hardfork = hardfork

    def _argv(self, port: int) -> list[str]:
        argv = [
            str(anvil_binary()),
            "--host", "127.0.0.1",
            "--port", str(port),
            "--chain-id", str(self.evm_chain_id),
            "--mnemonic", DEV_MNEMONIC,
            "--accounts", "4",
        ]  # fmt: skip
        if self.block_time is not None:
            argv += ["--block-time", f"{self.block_time:g}"]
        if self.hardfork:
            argv += ["--hardfork", self.hardfork]
        return argv

    async def up(self, progress: Progress) -> DevnetInfo:
        existing = load_info(self.state_dir)
        pid = read_pid(self.state_dir, PROCESS_NAME)
        if existing is not None and pid is not None and is_alive(pid):
            progress(f"anvil already running (pid {pid})")
            return existing
        port = free_port()
        rpc_url = f"http://127.0.0.1:{port}"
        progress(f"starting anvil on {rpc_url}")
        handle = spawn(PROCESS_NAME, self._argv(port), self.state_dir)
        w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": 5}))
        try:
            await wait_until(w3.is_connected, timeout=30, what="anvil RPC", process=handle)
            owner = dev_account(OWNER_INDEX)
            submitter = dev_account(SUBMITTER_INDEX)
            progress("deploying RecordRegistry and Inbox")
            registry = await contracts.deploy(w3, "RecordRegistry", owner.address)
            inbox = await contracts.deploy(w3, "Inbox", owner.address)
            await contracts.set_submitter(w3, inbox, owner.address, submitter.address)
            await contracts.set_writer(w3, registry, owner.address, submitter.address)
        except BaseException:
            stop(self.state_dir, PROCESS_NAME)
            raise
        finally:
            with contextlib.suppress(Exception):
                await w3.provider.disconnect()
        key_file = write_secret(self.state_dir / SUBMITTER_KEY_FILE, submitter.private_key)
        chain = self.chain_message(rpc_url, registry, inbox, key_file)
        info = DevnetInfo(
            kind=self.kind,
            processes=[ProcessInfo(name=handle.name, pid=handle.pid, log=str(handle.log_path))],
            endpoints={"rpc": rpc_url},
            chain=json_format.MessageToDict(chain),
            extra={
                "evm_chain_id": self.evm_chain_id,
                "registry_address": registry,
                "inbox_address": inbox,
                "owner": {"address": owner.address, "private_key": owner.private_key},
                "submitter": {"address": submitter.address, "private_key": submitter.private_key},
                "mnemonic": DEV_MNEMONIC,
                "block_time": self.block_time,
                "finality_depth": self.finality_depth,
            },
        )
        save_info(self.state_dir, info)
        progress(f"anvil ready: registry {registry}, inbox {inbox}")
        return info

    def chain_message(
        self, rpc_url: str, registry: str, inbox: str, submitter_key_file: Path
    ) -> chains_pb2.Chain:
        """The tonglian.v1.Chain that registers this devnet with the hub."""
        chain = chains_pb2.Chain(
            chain_id=self.hub_chain_id,
            display_name=f"anvil devnet (EVM chain id {self.evm_chain_id})",
            kind=chains_pb2.CHAIN_KIND_EVM,
            adapter=chains_pb2.AdapterSettings(adapter="evm", timeout_ms=10_000),
            trust_anchor=chains_pb2.TrustAnchor(
                evm=chains_pb2.EvmTrustAnchor(
                    chain_id=self.evm_chain_id,
                    registry_address=bytes.fromhex(registry[2:]),
                    finality_depth=self.finality_depth,
                    consensus=chains_pb2.EVM_CONSENSUS_ENDPOINT_QUORUM,
                    rpc_endpoints=[rpc_url],
                    endpoint_quorum=1,
                    inbox_address=bytes.fromhex(inbox[2:]),
                )
            ),
        )
        chain.adapter.options.update({"rpc_url": rpc_url, "poll_interval": 0.5})
        chain.adapter.secrets["private_key"].file = str(submitter_key_file.resolve())
        return chain

    async def down(self) -> bool:
        return stop(self.state_dir, PROCESS_NAME)

    async def status(self) -> DevnetStatus:
        pid = read_pid(self.state_dir, PROCESS_NAME)
        info = load_info(self.state_dir)
        if pid is None or not is_alive(pid) or info is None:
            return DevnetStatus(kind=self.kind, running=False, detail="not running")
        rpc_url = info.endpoints.get("rpc", "")
        w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": 5}))
        try:
            head = await w3.eth.block_number
        except Exception as exc:
            return DevnetStatus(kind=self.kind, running=True, detail=f"{rpc_url}: {exc}")
        finally:
            with contextlib.suppress(Exception):
                await w3.provider.disconnect()
        return DevnetStatus(
            kind=self.kind, running=True, heights={PROCESS_NAME: head}, detail=f"{rpc_url} ok"
        )


__all__ = ["DevnetError", "EvmDevnet"]
