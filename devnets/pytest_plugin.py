"""Pytest fixtures that start real devnets; installed as the `tonglian_devnets` pytest plugin.

Each chain kind keeps its fixtures in `devnets/<kind>/fixtures.py`; this plugin
gathers them so any test suite (ours or an integrator's) can ask for a chain.
"""

from importlib.util import find_spec

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
