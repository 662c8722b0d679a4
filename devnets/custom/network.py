"""CustomDevnet: the reference custom ledger as one local process, ready to register.

State lives in `state_dir`: validators.json (n keys, Ed25519 or SM2 as `crypto`
says, generated once and reused, so the trust anchor survives restarts), data/
(the ledger's SQLite), ledger.log, ledger.pid and devnet.json (the DevnetInfo).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
from google.protobuf import json_format

from devnets.base import DevnetInfo, DevnetStatus, ProcessInfo, Progress, load_info, save_info
from devnets.custom.ledger import validators
from devnets.process import (
    DevnetError,
    ProcessHandle,
    free_port,
    is_alive,
    read_pid,
    spawn,
    stop,
    wait_until,
)
from tonglian.v1 import chains_pb2

CHAIN_ID = "custom-1"
PROCESS = "ledger"
_REPO_ROOT = Path(__file__).resolve().parents[2]


class CustomDevnet:
    kind = "custom"

    def __init__(
        self,
        state_dir: Path,
        *,
        n: int = 4,
        threshold: int = 3,
        block_interval_ms: int = 200,
        crypto: str | None = None,
    ) -> None:
        """`crypto` ("ed25519" or "sm2") fixes the mode of a new ledger; None keeps the
        existing one (ed25519 for a new ledger)."""
        if not 1 <= threshold <= n:
            raise ValueError(f"threshold {threshold} must be 1..{n}")
        if crypto is not None and crypto not in validators.CRYPTO_MODES:
            raise ValueError(
                f"crypto {crypto!r} must be one of {', '.join(validators.CRYPTO_MODES)}"
            )
        self.crypto = crypto
        self.state_dir = state_dir
        self.n = n
        self.threshold = threshold
        self.block_interval_ms = block_interval_ms

    @property
    def validators_file(self) -> Path:
        return self.state_dir / "validators.json"

    def _running_pid(self) -> int | None:
        pid = read_pid(self.state_dir, PROCESS)
        return pid if pid is not None and is_alive(pid) else None

    def _ensure_keys(self) -> validators.ValidatorSet:
        if not self.validators_file.exists():
            self.state_dir.mkdir(parents=True, exist_ok=True)
            doc = validators.generate(
                f"tonglian-custom-{secrets.token_hex(4)}", self.n, self.crypto or "ed25519"
            )
            tmp = self.validators_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(doc, indent=2))
            tmp.chmod(0o600)
            tmp.replace(self.validators_file)
        vset = validators.load(self.validators_file)
        if self.crypto is not None and vset.crypto != self.crypto:
            raise DevnetError(
                f"the custom ledger in {self.state_dir} runs in {vset.crypto} mode; to start "
                f"one in {self.crypto} mode, stop it (`tonglian devnet down custom`) and "
                f"remove {self.state_dir}"
            )
        return vset

    async def up(self, progress: Progress) -> DevnetInfo:
        info = load_info(self.state_dir)
        vset = self._ensure_keys()
        if info is not None and self._running_pid() is not None:
            progress(f"custom ledger already running at {info.endpoints.get('http')}")
            return info
        port = _reuse_port(info)
        url = f"http://127.0.0.1:{port}"
        progress(f"starting custom ledger {vset.ledger_id} ({vset.crypto}) on {url}")
        handle = spawn(
            PROCESS,
            [
                sys.executable,
                "-m",
                "devnets.custom.ledger",
                "--data-dir",
                str(self.state_dir / "data"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--validators-file",
                str(self.validators_file),
                "--threshold",
                str(self.threshold),
                "--block-interval-ms",
                str(self.block_interval_ms),
            ],
            self.state_dir,
            env={"PYTHONPATH": os.pathsep.join(filter(None, [str(_REPO_ROOT), _pythonpath()]))},
            cwd=_REPO_ROOT,
        )
        await _wait_head(url, handle)
        info = DevnetInfo(
            kind=self.kind,
            processes=[ProcessInfo(name=PROCESS, pid=handle.pid, log=str(handle.log_path))],
            endpoints={"http": url},
            chain=chain_json(url, vset, self.threshold),
            extra={
                "ledger_id": vset.ledger_id,
                "crypto": vset.crypto,
                "threshold": self.threshold,
                "port": port,
                "validators_file": str(self.validators_file),
                "data_dir": str(self.state_dir / "data"),
            },
        )
        save_info(self.state_dir, info)
        progress(f"custom ledger {vset.ledger_id} is up at {url}")
        return info

    async def down(self) -> bool:
        return stop(self.state_dir, PROCESS)

    async def status(self) -> DevnetStatus:
        info = load_info(self.state_dir)
        crypto = str(info.extra.get("crypto", "ed25519")) if info is not None else None
        if self._running_pid() is None or info is None:
            return DevnetStatus(kind=self.kind, running=False, detail="not running", crypto=crypto)
        url = info.endpoints["http"]
        height = await _head_height(url)
        if height is None:
            return DevnetStatus(
                kind=self.kind, running=True, detail=f"{url} does not answer", crypto=crypto
            )
        return DevnetStatus(
            kind=self.kind, running=True, heights={PROCESS: height}, detail=url, crypto=crypto
        )


def chain_json(url: str, vset: validators.ValidatorSet, threshold: int) -> dict[str, Any]:
    """The proto3 JSON of a tonglian.v1.Chain that registers this ledger."""
    chain = chains_pb2.Chain(
        chain_id=CHAIN_ID,
        display_name="Reference custom ledger (devnet)",
        kind=chains_pb2.CHAIN_KIND_SIGNED_MERKLE,
        adapter=chains_pb2.AdapterSettings(adapter="custom"),
        trust_anchor=chains_pb2.TrustAnchor(
            signed_merkle=chains_pb2.SignedMerkleTrustAnchor(
                ledger_id=vset.ledger_id,
                validators=[anchored_validator(v) for v in vset.keys],
                threshold=threshold,
                digest=(
                    chains_pb2.LEDGER_DIGEST_SM3
                    if vset.crypto == "sm2"
                    else chains_pb2.LEDGER_DIGEST_UNSPECIFIED
                ),
            )
        ),
    )
    chain.adapter.options.update({"url": url})
    out: dict[str, Any] = json_format.MessageToDict(chain)
    return out


def anchored_validator(v: validators.ValidatorKey) -> chains_pb2.Validator:
    """The anchor entry of one of the ledger's validators, naming its algorithm."""
    if v.algorithm == "sm2":
        return chains_pb2.Validator(
            id=v.id,
            algorithm=chains_pb2.SIGNATURE_ALGORITHM_SM2,
            sm2_public_key=v.public_key,
            sm2_user_id=v.user_id,
        )
    return chains_pb2.Validator(id=v.id, ed25519_public_key=v.public_key)


def _pythonpath() -> str:
    return os.environ.get("PYTHONPATH", "")


def _reuse_port(info: DevnetInfo | None) -> int:
    """The port of the last run when it is free (so registrations keep working), else a new one."""
    old = info.extra.get("port") if info is not None else None
    if isinstance(old, int):
        with socket.socket() as s:
            # The ledger binds with SO_REUSEADDR too, so TIME_WAIT leftovers do not block it.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", old))
            except OSError:
                return free_port()
            return old
    return free_port()


async def _head_height(url: str) -> int | None:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http,
            http.get(f"{url}/v1/head") as resp,
        ):
            if resp.status != 200:
                return None
            height = (await resp.json())["height"]
            return height if isinstance(height, int) else None
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError):
        return None


async def _wait_head(url: str, handle: ProcessHandle) -> None:
    async def probe() -> bool:
        return await _head_height(url) is not None

    try:
        await wait_until(probe, timeout=20, what=f"custom ledger {url}/v1/head", process=handle)
    except DevnetError:
        stop(handle.log_path.parent, PROCESS)
        raise
