"""A devnet started for a process dies with it, SIGKILL included (devnets/lifeline.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devnets.process import is_alive

pytestmark = pytest.mark.integration

PARENT = """
import asyncio, json, os
os.environ["TONGLIAN_DEVNET_PARENT"] = str(os.getpid())
from devnets.registry import create

async def main() -> None:
    info = await create("custom").up(lambda _: None)
    print(json.dumps([p.pid for p in info.processes]), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def test_a_sigkilled_parent_takes_its_devnet_with_it(tmp_path: Path) -> None:
    env = {**os.environ, "TONGLIAN_STATE_DIR": str(tmp_path / "state")}
    env.pop("TONGLIAN_DEVNET_PARENT", None)
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line, "the parent did not start its devnet"
    finally:
        parent.kill()
        parent.wait()
    launchers = [int(pid) for pid in line.strip("[]\n").split(",")]
    # Bound to the parent: each devnet process is the lifeline launcher of its program.
    for pid in launchers:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes() if is_alive(pid) else b""
        assert not cmdline or b"devnets.lifeline" in cmdline
    deadline = time.monotonic() + 5
    while any(is_alive(pid) for pid in launchers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in launchers if is_alive(pid)]
    # Nor anything in their process groups (the ledger program itself).
    left = subprocess.run(
        ["pgrep", "-f", str(tmp_path / "state")], capture_output=True, text=True
    ).stdout.split()
    for pid in left:
        os.kill(int(pid), signal.SIGKILL)
    assert left == []
