"""Running Fabric's one-shot commands (cryptogen, configtxgen, osnadmin, peer CLI).

Each run is awaited with a deadline; a failure raises DevnetError carrying the
command line and its output, which is what a person needs to act on it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from devnets.process import DevnetError


async def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    deadline: float = 60.0,
) -> str:
    """Runs ARGV to completion; returns its combined output or raises DevnetError."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
        env=full_env,
        cwd=str(cwd) if cwd else None,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), deadline)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise DevnetError(f"timed out after {deadline:.0f}s: {' '.join(argv)}") from None
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        tail = "\n".join(text.splitlines()[-15:])
        raise DevnetError(f"{' '.join(argv)} failed (exit {proc.returncode}):\n{tail}")
    return text
