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


BUSY_STARTER = """
import asyncio, sys, threading
from pathlib import Path
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tonglian_tools.hub_process import HubProcess

done = threading.Event()

def busy() -> None:  # gRPC calls in other threads, as a test process makes them
    stub = health_pb2_grpc.HealthStub(grpc.insecure_channel("127.0.0.1:1"))
    while not done.is_set():
        try:
            stub.Check(health_pb2.HealthCheckRequest(), timeout=0.01)
        except grpc.RpcError:
            pass

for _ in range(4):
    threading.Thread(target=busy, daemon=True).start()

async def main() -> None:
    for i in range(int(sys.argv[2])):
        hub = HubProcess(Path(sys.argv[1]) / f"hub-{i}", insecure=True)
        hub.start()
        try:
            await hub.wait_serving()
            print("serving", flush=True)
        except Exception as exc:
            print("failed:", str(exc).replace(chr(10), " ")[:300], flush=True)
        finally:
            hub.stop()

asyncio.run(main())
done.set()
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


def test_hubs_start_while_their_starter_is_busy_in_grpc(tmp_path: Path) -> None:
    # Bound by a preexec_fn, the hub's fork ran gRPC's fork handlers in the child, which
    # aborted it (SIGABRT, "epoll_wait error: Bad file descriptor") while the starter's
    # other threads were inside gRPC: 1 start in 6 here, and once in CI.
    starts = 4
    done = subprocess.run(
        [sys.executable, "-c", BUSY_STARTER, str(tmp_path), str(starts)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ["serving"] * starts, done.stdout
