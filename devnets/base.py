"""The Devnet protocol: one per chain kind, managed by `tonglian devnet up|down|status`.

A devnet writes what it started to `STATE/<kind>/devnet.json` (a DevnetInfo), so
`status` and `down` work from another shell, and so `tonglian chains add
--from-devnet KIND` can register it with the hub without typing anchors by hand.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field

Progress = Callable[[str], None]
"""Called with a short line for each step while a devnet comes up."""


class ProcessInfo(BaseModel):
    name: str
    pid: int
    log: str


class DevnetInfo(BaseModel):
    """What a running devnet is: its processes, endpoints and how to register it."""

    kind: str
    processes: list[ProcessInfo] = Field(default_factory=list)
    endpoints: dict[str, str] = Field(default_factory=dict)
    # A tonglian.v1.Chain in proto3 JSON form, ready for RegisterChain.
    chain: dict[str, Any] = Field(default_factory=dict)
    # Kind-specific facts (keys, accounts, contract addresses, ...).
    extra: dict[str, Any] = Field(default_factory=dict)


class DevnetStatus(BaseModel):
    kind: str
    running: bool
    # Head height per node, where known.
    heights: dict[str, int] = Field(default_factory=dict)
    detail: str = ""
    # The signature and digest mode, for devnets that have one (custom: ed25519 or sm2).
    crypto: str | None = None


class Devnet(Protocol):
    kind: str
    state_dir: Path

    async def up(self, progress: Progress) -> DevnetInfo: ...

    async def down(self) -> bool: ...

    async def status(self) -> DevnetStatus: ...


def default_state_root() -> Path:
    """`$TONGLIAN_STATE_DIR`, else `.tonglian/devnets` in the current folder (git-ignored)."""
    root = os.environ.get("TONGLIAN_STATE_DIR")
    return Path(root) if root else Path.cwd() / ".tonglian" / "devnets"


def write_secret(path: Path, value: str) -> Path:
    """Writes a secret (a devnet account's key) readable by its owner only: created 0600.

    A devnet's Chain names such a file (SecretRef.file); the tools that register it
    (`chains add --from-devnet`, the SDK's register_chain) put its content into the
    chain's own secret store on the hub first. The key is never put in a registration.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(value + "\n")
    return path


def save_info(state_dir: Path, info: DevnetInfo) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / "devnet.json.tmp"
    tmp.write_text(info.model_dump_json(indent=2))
    tmp.replace(state_dir / "devnet.json")


def load_info(state_dir: Path) -> DevnetInfo | None:
    try:
        return DevnetInfo.model_validate(json.loads((state_dir / "devnet.json").read_text()))
    except (OSError, ValueError):
        return None
