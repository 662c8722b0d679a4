"""AnnalsDevnet: one Annals node as a local process, ready to register with the hub.

State in `state_dir`: signers.json (n Ed25519 keys, made once and reused, so the
trust anchor survives restarts), data/blocks.jsonl, node.log, node.pid and
devnet.json. The chain registers with the `annals` adapter and a signed_merkle
anchor: the network id as ledger_id, the signers as validators, the quorum as k.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import aiohttp
from google.protobuf import json_format

from devnets.annals.node.book import new_signers_file
from devnets.base import DevnetInfo, DevnetStatus, ProcessInfo, Progress, load_info, save_info
from devnets.process import DevnetError, free_port, is_alive, read_pid, spawn, stop, wait_until
from tonglian.v1 import chains_pb2

CHAIN_ID = "annals-1"
PROCESS = "node"
_REPO_ROOT = Path(__file__).resolve().parents[2]


class AnnalsDevnet:
    kind = "annals"

    def __init__(
        self, state_dir: Path, *, n: int = 3, quorum: int = 2, seal_interval_ms: int = 200
    ) -> None:
        if not 1 <= quorum <= n:
            raise ValueError(f"quorum {quorum} must be 1..{n}")
        self.state_dir = state_dir
        self.n, self.quorum, self.seal_interval_ms = n, quorum, seal_interval_ms

    @property
    def signers_file(self) -> Path:
        return self.state_dir / "signers.json"

    def _signers(self) -> dict[str, Any]:
        if not self.signers_file.exists():
            self.state_dir.mkdir(parents=True, exist_ok=True)
            doc = new_signers_file(f"annals-{secrets.token_hex(4)}", self.n)
            tmp = self.signers_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(doc, indent=2))
            tmp.chmod(0o600)
            tmp.replace(self.signers_file)
        signers: dict[str, Any] = json.loads(self.signers_file.read_text())
        return signers

    def _running(self) -> bool:
        pid = read_pid(self.state_dir, PROCESS)
        return pid is not None and is_alive(pid)

    async def up(self, progress: Progress) -> DevnetInfo:
        info = load_info(self.state_dir)
        if info is not None and self._running():
            progress(f"annals node already running at {info.endpoints.get('http')}")
            return info
        signers = self._signers()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        progress(f"starting annals node {signers['network']} on {url}")
        handle = spawn(
            PROCESS,
            [
                sys.executable,
                "-m",
                "devnets.annals.node",
                "--data-dir",
                str(self.state_dir / "data"),
                "--port",
                str(port),
                "--signers-file",
                str(self.signers_file),
                "--quorum",
                str(self.quorum),
                "--seal-interval-ms",
                str(self.seal_interval_ms),
            ],
            self.state_dir,
            env={"PYTHONPATH": os.pathsep.join(filter(None, [str(_REPO_ROOT), _pythonpath()]))},
            cwd=_REPO_ROOT,
        )

        async def probe() -> bool:
            return await latest_number(url) is not None

        try:
            await wait_until(probe, timeout=20, what=f"annals node {url}", process=handle)
        except DevnetError:
            stop(self.state_dir, PROCESS)
            raise
        info = DevnetInfo(
            kind=self.kind,
            processes=[ProcessInfo(name=PROCESS, pid=handle.pid, log=str(handle.log_path))],
            endpoints={"http": url},
            chain=chain_json(url, signers, self.quorum),
            extra={"network": signers["network"], "quorum": self.quorum, "port": port},
        )
        save_info(self.state_dir, info)
        return info

    async def down(self) -> bool:
        return stop(self.state_dir, PROCESS)

    async def status(self) -> DevnetStatus:
        info = load_info(self.state_dir)
        if info is None or not self._running():
            return DevnetStatus(kind=self.kind, running=False, detail="not running")
        url = info.endpoints["http"]
        number = await latest_number(url)
        if number is None:
            return DevnetStatus(kind=self.kind, running=True, detail=f"{url} does not answer")
        return DevnetStatus(kind=self.kind, running=True, heights={PROCESS: number}, detail=url)


def chain_json(url: str, signers: dict[str, Any], quorum: int) -> dict[str, Any]:
    chain = chains_pb2.Chain(
        chain_id=CHAIN_ID,
        display_name="Annals ledger (devnet)",
        kind=chains_pb2.CHAIN_KIND_SIGNED_MERKLE,
        adapter=chains_pb2.AdapterSettings(adapter="annals"),
        trust_anchor=chains_pb2.TrustAnchor(
            signed_merkle=chains_pb2.SignedMerkleTrustAnchor(
                ledger_id=signers["network"],
                validators=[
                    chains_pb2.Validator(
                        id=s["name"], ed25519_public_key=base64.b64decode(s["key"])
                    )
                    for s in signers["signers"]
                ],
                threshold=quorum,
            )
        ),
    )
    chain.adapter.options.update({"url": url})
    out: dict[str, Any] = json_format.MessageToDict(chain)
    return out


def _pythonpath() -> str:
    return os.environ.get("PYTHONPATH", "")


async def latest_number(url: str) -> int | None:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http,
            http.get(f"{url}/api/v2/blocks/latest") as resp,
        ):
            if resp.status != 200:
                return None
            number = (await resp.json())["number"]
            return number if isinstance(number, int) else None
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError):
        return None
