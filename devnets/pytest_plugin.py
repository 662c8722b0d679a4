"""Pytest fixtures that start real devnets; load with `pytest -p devnets.pytest_plugin`.

Each chain kind keeps its fixtures in `devnets/<kind>/fixtures.py`; this plugin
gathers them so any test suite (ours or an integrator's) can ask for a chain.
"""

pytest_plugins = [
    "devnets.custom.fixtures",
]
