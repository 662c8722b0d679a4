"""Runs one devnet process so that it dies with a given ancestor, SIGKILL included.

    python -m devnets.lifeline PARENT_PID -- PROGRAM ARGS...
    python -m devnets.lifeline --exec PARENT_PID -- PROGRAM ARGS...

A devnet started by `tonglian devnet up` must outlive that command (it is stopped
by `devnet down`), so devnet processes run detached. Started for a test run, they
must not outlive it: `spawn` (devnets/process.py) puts this launcher in front of
the program when TONGLIAN_DEVNET_PARENT names the process they belong to (the
pytest plugin sets it to the test run). The launcher starts the program with
PR_SET_PDEATHSIG, so the program dies with the launcher whatever kills it; it
forwards SIGTERM, SIGINT and SIGHUP to the program and exits with its status; and
it watches the parent, killing its whole process group within half a second of
the parent's death.

With `--exec` it becomes the program instead (same pid, nothing in between), bound to
PARENT_PID, its parent, by PR_SET_PDEATHSIG: for a child that must be signalled
directly (a hub a test pauses with SIGSTOP) and whose starter may run gRPC, where a
`preexec_fn` cannot be used (forking with one runs gRPC's fork handlers in the child,
which aborted it while the starter's gRPC threads were busy).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time

ENV = "TONGLIAN_DEVNET_PARENT"
PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.5


def _die_with(parent: int) -> bool:
    """Asks the kernel to SIGKILL this process when its parent (strictly, the thread
    that started it) dies; False when `parent` is gone already (before the request)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    return os.getppid() == parent


def _die_with_launcher() -> None:
    """The launched program's `preexec_fn` (the launcher runs no gRPC: it may fork)."""
    if not _die_with(os.getppid()):
        os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watch(parent: int) -> None:
    while _alive(parent):
        time.sleep(POLL_SECONDS)
    os.killpg(os.getpgid(0), signal.SIGKILL)


def exec_bound(parent: int, program: list[str]) -> int:
    """Becomes `program`, which the kernel SIGKILLs when `parent` (our parent) dies."""
    if not _die_with(parent):
        return 1
    os.execvp(program[0], program)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--exec"] and len(argv) >= 4 and argv[2] == "--":
        return exec_bound(int(argv[1]), argv[3:])
    if len(argv) < 3 or argv[1] != "--":
        print(
            "usage: python -m devnets.lifeline [--exec] PARENT_PID -- PROGRAM ARGS...",
            file=sys.stderr,
        )
        return 2
    parent, program = int(argv[0]), argv[2:]
    if not _alive(parent):
        return 1
    child = subprocess.Popen(program, preexec_fn=_die_with_launcher)

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    threading.Thread(target=_watch, args=(parent,), name="lifeline", daemon=True).start()
    while True:
        try:
            return child.wait()
        except InterruptedError:
            continue


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
