"""Nothing the hub starts outlives it: SIGKILL a real hub and count what is left."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from tonglian_tools.hub_process import HubProcess

pytestmark = pytest.mark.integration


def descendants(pid: int) -> dict[int, str]:
    """Every live process below `pid` (by parent chain), with its command line."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(text.rsplit(")", 1)[1].split()[1])
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        here = frontier.pop()
        for child, parent in parents.items():
            if parent == here and child not in found:
                found[child] = cmdline(child)
                frontier.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def test_sigkilled_hub_leaves_no_process_behind(hub_process: HubProcess) -> None:
    left: list[str] = []
    for _ in range(5):
        assert hub_process.proc is not None
        hub_pid = hub_process.proc.pid
        # The verification pool and the resource tracker are up once the hub serves.
        for _ in range(300):
            if len(children := descendants(hub_pid)) >= 2:
                break
            await asyncio.sleep(0.1)
        kinds = " ".join(children.values())
        assert "resource_tracker" in kinds and "multiprocessing" in kinds, children
        assert hub_process.stop(signal.SIGKILL) == -signal.SIGKILL
        killed_at = time.monotonic()
        while time.monotonic() - killed_at < 2.0:
            if not any(alive(p) for p in children):
                break
            await asyncio.sleep(0.05)
        left += [f"{p} {c}" for p, c in children.items() if alive(p)]
        hub_process.start()
        await hub_process.wait_serving()
    assert left == []
