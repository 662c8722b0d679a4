"""`tonglian` run as a user runs it: a child process with its environment and folder."""

from __future__ import annotations

import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


class Cli:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        # `devnet up` writes anchors to the anchors folder: the test's, not the user's.
        self.env = {"TONGLIAN_ANCHORS": str(cwd / "devnet-anchors"), **env}
        self.cwd = cwd

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-P", "-m", "hub.cli.main", *args]

    def __call__(self, *args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
        """Runs `tonglian ARGS`; asserts its exit code is `check` unless None."""
        result = subprocess.run(
            self.argv(*args), env=self.env, cwd=self.cwd, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        if check is not None:
            assert result.returncode == check, (args, result.stdout, result.stderr)
        return result

    def first_line(self, *args: str, then: Callable[[], None] = lambda: None) -> str:
        """Starts a streaming verb, runs `then` (what makes it print), returns the verb's
        first line of output within 60 s, then stops it."""
        proc = subprocess.Popen(
            self.argv(*args), env=self.env, cwd=self.cwd, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            time.sleep(3)  # the stream is open: what `then` makes happens after it
            then()
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            assert ready, "the stream printed nothing within 60 s"
            line = proc.stdout.readline()
            if not line:
                assert proc.stderr is not None
                raise AssertionError(f"{args}: no output; stderr: {proc.stderr.read()}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        return line
