"""Ctrl-C on `tonglian serve` in a terminal: SIGINT to the whole foreground process group
(the hub and its verify workers). The hub stops, nothing prints a traceback, no worker
is left."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub import pki

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(stat[1]) == pid and stat[0] != "Z":
                found.append(int(entry.name))
    return found


def test_ctrl_c_stops_serve_without_tracebacks(tmp_path: Path) -> None:
    pki.init_ca(tmp_path / "pki")
    port = _free_port()
    hub = subprocess.Popen(
        [sys.executable, "-P", "-m", "hub.cli.main", "serve", "--listen", f"127.0.0.1:{port}",
         "--data-dir", str(tmp_path / "data"), "--pki", str(tmp_path / "pki"),
         "--verify-workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(_children(hub.pid)) < 2:  # the verify workers are up
            assert hub.poll() is None, hub.communicate()
            assert time.monotonic() < deadline, "no verify workers within 60 s"
            time.sleep(0.2)
        time.sleep(2)  # they have imported the verifiers
        workers = _children(hub.pid)
        os.killpg(hub.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        _, err = hub.communicate(timeout=60)
    finally:
        if hub.poll() is None:
            os.killpg(hub.pid, signal.SIGKILL)
            hub.wait()
    assert hub.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    deadline = time.monotonic() + 10
    while (left := [pid for pid in workers if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == [], "verify workers outlived the hub"


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False
