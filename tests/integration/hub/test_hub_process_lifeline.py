"""A hub started by a test run, a bench or the demo (tonglian_tools.hub_process) dies
with the process that started it, SIGKILL included, and takes its verification
workers with it; `outlives_parent` (the demo's --keep) is the one way to keep it."""

from __future__ import annotations

import json
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
import asyncio, json, subprocess, sys
from pathlib import Path
from tonglian_tools.hub_process import HubProcess

async def main() -> None:
    hub = HubProcess(Path(sys.argv[1]), insecure=True, outlives_parent=sys.argv[2] == "keep")
    hub.start()
    await hub.wait_serving()
    children = subprocess.run(
        ["pgrep", "-P", str(hub.proc.pid)], capture_output=True, text=True
    ).stdout.split()
    print(json.dumps([hub.proc.pid, *map(int, children)]), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def start_parent(data_dir: Path, mode: str) -> tuple[subprocess.Popen[str], list[int]]:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(data_dir), mode], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    line = parent.stdout.readline()
    if not line:
        parent.kill()
        parent.wait()
        raise AssertionError(f"the parent did not start its hub:\n{read_log(data_dir)}")
    return parent, json.loads(line)


def read_log(data_dir: Path) -> str:
    log = data_dir / "hub.log"
    return log.read_text()[-3000:] if log.exists() else "(no hub.log)"


def wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while any(is_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in pids if is_alive(pid)]


def test_a_sigkilled_parent_takes_its_hub_and_workers_with_it(tmp_path: Path) -> None:
    parent, pids = start_parent(tmp_path / "hub", "bound")
    hub_pid, workers = pids[0], pids[1:]
    assert workers, "the hub was expected to run a verification worker"
    parent.kill()
    parent.wait()
    left = wait_gone(pids, 2.0)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"outlived their parent: {left} (hub {hub_pid})"


def test_a_kept_hub_outlives_its_parent_until_stopped(tmp_path: Path) -> None:
    parent, pids = start_parent(tmp_path / "hub", "keep")
    hub_pid = pids[0]
    try:
        parent.kill()
        parent.wait()
        time.sleep(1.0)
        assert is_alive(hub_pid), "a hub started to outlive its parent died with it"
    finally:
        if is_alive(hub_pid):
            os.kill(hub_pid, signal.SIGTERM)
    assert wait_gone(pids, 20.0) == []
