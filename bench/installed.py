"""Run our commands as an installed `tonglian` runs: from compiled bytecode.

pip compiles a package's modules when it installs it, so a user's `tonglian` loads
bytecode. This environment may set PYTHONDONTWRITEBYTECODE, under which every module
of ours is compiled from source again on every start: start-time benchmarks would
time the compiler. They run their commands with `bytecode_env(cache)` instead, a
private cache (PYTHONPYCACHEPREFIX) filled by one unmeasured warm-up run.
"""

from __future__ import annotations

import os


def bytecode_env(cache_dir: str) -> dict[str, str]:
    """This process's environment with bytecode written to and read from `cache_dir`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache_dir
    return env
