"""A hub's stop is bounded whatever holds the process (issue 27, attack 11): once
`exit_after` is armed, a thread that never ends (not a daemon, so the interpreter
would wait for it at exit) cannot keep the process alive past the bound, and the
stacks of what held it are written out. A real child process, real signals."""

from __future__ import annotations

import subprocess
import sys
import time

from hub.server import EXIT_FORCED

HELD = """
import threading, time
from hub.lifeline import exit_after
threading.Thread(target=time.sleep, args=(3600,), name="holds-the-process").start()
exit_after(0.5, {code}, "the test's stop")
"""


def test_a_process_held_by_a_thread_exits_at_the_bound_with_its_stacks() -> None:
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", HELD.format(code=EXIT_FORCED)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    took = time.monotonic() - start

    assert done.returncode == EXIT_FORCED == 143
    assert took < 5, f"the process ended {took:.1f}s after it started"
    assert "the test's stop did not end within 0.5s; exiting now. Threads:" in done.stderr
    # The main thread was held where the interpreter joins threads at exit.
    assert " in _shutdown\n" in done.stderr
