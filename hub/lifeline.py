"""Processes the hub starts die with it, whatever kills the hub (SIGKILL included); and
the hub itself ends when asked to, within the bound it documents (`exit_after`).

A pool worker calls `bind_to_parent(hub_pid)` first thing (and starts without
re-importing the hub's `__main__`, the whole CLI, so "first thing" comes within
a fraction of a second: see `lean_spawn`): on Linux the kernel
sends it SIGKILL when its parent dies (PR_SET_PDEATHSIG), and a daemon thread
watching the parent's pid covers the rest (a parent that died before the call,
other systems). When the workers are gone, multiprocessing's resource tracker
reads end-of-file on its pipe and exits too: nothing outlives the hub.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import faulthandler
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Iterator

PR_SET_PDEATHSIG = 1
# How often the watchdog looks at the parent pid.
WATCH_INTERVAL = 0.25


def bind_to_parent(parent_pid: int) -> None:
    """Ends this process when `parent_pid` (its parent) dies."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # died before the kernel was told
        os._exit(1)
    threading.Thread(target=_watch, args=(parent_pid,), name="lifeline", daemon=True).start()


def pool_worker(parent_pid: int) -> None:
    """A hub pool worker's start: bound to the hub's life, and deaf to Ctrl-C.

    Ctrl-C in a terminal signals the whole foreground process group; the hub stops its
    workers itself when it stops, so a worker that took SIGINT would only print a
    KeyboardInterrupt traceback on the way."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    bind_to_parent(parent_pid)


def _watch(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(WATCH_INTERVAL)
    os._exit(1)


@contextlib.contextmanager
def lean_spawn() -> Iterator[None]:
    """Processes spawned inside this block do not import the parent's `__main__`.

    A spawned child re-imports the parent's main module before it runs anything;
    for the hub that is the CLI and everything below it (seconds on a loaded
    machine), a window in which a child whose parent died has not yet bound its
    life to the parent's. Code run in such children must live in importable
    modules (ours does), never in `__main__`.
    """
    real = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = real


def exit_after(seconds: float, code: int, what: str) -> None:
    """Ends this process with `code` in `seconds`, unless it has ended by then.

    Armed when the hub is asked to stop: whatever would hold the process after that (a
    thread that is not a daemon, an executor joined at exit, a task that ignores its
    cancellation) cannot keep it past the bound. A daemon thread does it, so a blocked
    event loop or an interpreter joining threads at exit does not stop it either; it
    writes every thread's stack to stderr first, so what held the hub can be found.
    """
    threading.Thread(
        target=_exit_later, args=(seconds, code, what), name="stop-deadline", daemon=True
    ).start()


def exit_now(code: int, why: str) -> None:
    """Ends this process at once (a second stop signal): no clean-up runs."""
    with contextlib.suppress(OSError):
        os.write(2, f"{why}\n".encode())
    os._exit(code)


def _exit_later(seconds: float, code: int, what: str) -> None:
    time.sleep(seconds)
    with contextlib.suppress(OSError, ValueError, RuntimeError):
        os.write(2, f"{what} did not end within {seconds:g}s; exiting now. Threads:\n".encode())
        faulthandler.dump_traceback(all_threads=True)
    os._exit(code)
