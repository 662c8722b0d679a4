"""Modules bound now and loaded on first use, so that a command pays only for what it calls.

A CLI verb that lists chains needs the chains service's messages, not the query,
relay and audit ones; loading every generated module costs more than the rest of
a fast command's start. `lazy_module` puts the stdlib's LazyLoader in front of one
module: its name is bound at once, its code runs when an attribute is first read.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """`name` as a module that executes on its first attribute access (at once if loaded)."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"no module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
