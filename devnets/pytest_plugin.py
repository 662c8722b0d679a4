"""Pytest fixtures that start real devnets; installed as the `tonglian_devnets` pytest plugin.

Each chain kind keeps its fixtures in `devnets/<kind>/fixtures.py`; this plugin
gathers them so any test suite (ours or an integrator's) can ask for a chain.
"""

import os
from importlib.util import find_spec

from devnets.lifeline import ENV as LIFELINE_ENV

# Every devnet process a test starts, directly or through a `tonglian` child process,
# dies with this test run, SIGKILL included (devnets/lifeline.py).
os.environ.setdefault(LIFELINE_ENV, str(os.getpid()))

pytest_plugins = [
    name
    for name in (
        "devnets.custom.fixtures",
        "devnets.evm.fixtures",
        "devnets.fabric.fixtures",
        "devnets.annals.fixtures",
        "devnets.postgres.fixtures",
    )
    if find_spec(name) is not None
]
