"""Local processes a devnet starts: spawn detached with a log and a pid file, stop, probe.

Devnets run real chain nodes as plain local processes (no Docker). Each process
gets its own session, so `down` can stop it and everything it forked, and a
pid file, so a later `tonglian devnet down` in another shell finds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from devnets.lifeline import ENV as LIFELINE_ENV


class DevnetError(Exception):
    """A devnet could not be brought up, probed or stopped; the message says why."""


@dataclass(frozen=True)
class ProcessHandle:
    name: str
    pid: int
    log_path: Path


# Ports free_port handed out in this process.
_handed_out: set[int] = set()
# Ports asked of the OS before free_port gives up.
_PORT_TRIES = 1000


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free now (the OS picks it) and that this process never handed
    out before: the port is free again once the probe closes, so two callers asking in a
    row could get the same one, and the second to bind it failed (two hubs of one test
    given one port: the second exited, and the first answered for both)."""
    for _ in range(_PORT_TRIES):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise DevnetError(f"no TCP port on {host} that this process has not handed out already")


def spawn(
    name: str,
    argv: Sequence[str],
    state_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    binds_itself: bool = False,
) -> ProcessHandle:
    """Starts `argv` detached, appending its output to `state_dir/NAME.log`.

    Detached, it outlives the command that started it (`devnet up`); when
    TONGLIAN_DEVNET_PARENT names a process (a test run), it dies with that one
    instead, SIGKILL included (devnets/lifeline.py), unless the program `binds_itself`
    to its parent (PostgreSQL's launcher, which must switch user first).
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    parent = os.environ.get(LIFELINE_ENV, "")
    if parent.isdigit() and not binds_itself:
        argv = [sys.executable, "-m", "devnets.lifeline", parent, "--", *argv]
    log_path = state_dir / f"{name}.log"
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    with open(log_path, "ab") as log:
        try:
            proc = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=full_env,
                cwd=str(cwd) if cwd else None,
                start_new_session=True,
            )
        except OSError as exc:
            raise DevnetError(f"cannot start {name} ({argv[0]}): {exc}") from exc
    (state_dir / f"{name}.pid").write_text(str(proc.pid))
    return ProcessHandle(name=name, pid=proc.pid, log_path=log_path)


def is_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie child counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def read_pid(state_dir: Path, name: str) -> int | None:
    try:
        return int((state_dir / f"{name}.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def stop(state_dir: Path, name: str, timeout: float = 10.0) -> bool:
    """Stops the process group of NAME: SIGTERM, then SIGKILL after `timeout`.

    Returns True when something was running.
    """
    pid = read_pid(state_dir, name)
    pid_file = state_dir / f"{name}.pid"
    if pid is None or not is_alive(pid):
        pid_file.unlink(missing_ok=True)
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and is_alive(pid):
        time.sleep(0.05)
    if is_alive(pid):
        _signal_group(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and is_alive(pid):
            time.sleep(0.05)
    pid_file.unlink(missing_ok=True)
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


async def wait_until(
    probe: Callable[[], Awaitable[bool]],
    *,
    timeout: float,
    what: str,
    process: ProcessHandle | None = None,
    interval: float = 0.1,
) -> None:
    """Polls `probe` until it returns True; fails early when `process` died."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            if await probe():
                return
        if process is not None and not is_alive(process.pid):
            raise DevnetError(
                f"{process.name} exited while waiting for {what}; last log lines:\n"
                + log_tail(process.log_path)
            )
        if time.monotonic() > deadline:
            tail = f"; last log lines:\n{log_tail(process.log_path)}" if process else ""
            raise DevnetError(f"timed out after {timeout:.0f}s waiting for {what}{tail}")
        await asyncio.sleep(interval)
