"""Finds adapter plugins: every `tonglian.adapters` entry point names an AdapterFactory.

A plugin's module may also define `check_options(options)`, which the hub calls when a
chain is registered: it raises AdapterMisconfigured for options the adapter would refuse
(the fabric adapter refuses options naming files), so they are refused as
INVALID_ARGUMENT before anything is stored or dialled.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from adapters.base import AdapterFactory, AdapterMisconfigured
from hub.errors import ChainMisconfigured, InvalidInput

ENTRY_POINT_GROUP = "tonglian.adapters"


@cache
def installed() -> dict[str, EntryPoint]:
    """Installed adapter plugins by name."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def check_name(name: str) -> None:
    """Raises InvalidInput unless an adapter of that name is installed."""
    if name not in installed():
        known = ", ".join(sorted(installed())) or "none"
        raise InvalidInput(f"no adapter named {name!r} is installed (installed: {known})")


def factory(name: str) -> AdapterFactory:
    check_name(name)
    try:
        loaded = installed()[name].load()
    except Exception as exc:  # a broken plugin must not take the hub down
        raise ChainMisconfigured(f"adapter plugin {name!r} failed to load: {exc}") from exc
    if not callable(loaded):
        raise ChainMisconfigured(f"adapter plugin {name!r} does not name a factory")
    result: AdapterFactory = loaded
    return result


def check_options(name: str, options: Mapping[str, Any]) -> None:
    """Raises InvalidInput when the plugin's `check_options` refuses the options; a
    plugin without one takes any options here (its factory checks them on first use)."""
    check_name(name)
    try:
        module = importlib.import_module(installed()[name].module)
    except Exception:  # a broken plugin is reported when its adapter is made (`factory`)
        return
    check = getattr(module, "check_options", None)
    if check is None:
        return
    try:
        check(options)
    except AdapterMisconfigured as exc:
        raise InvalidInput(str(exc)) from None


@dataclass(frozen=True)
class PluginStatus:
    """One installed plugin as `tonglian adapter list` shows it."""

    name: str
    target: str
    distribution: str
    loadable: bool
    error: str = ""


def statuses() -> list[PluginStatus]:
    """Every installed plugin, loaded to tell whether it works (errors kept, not raised)."""
    out = []
    for name, ep in sorted(installed().items()):
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else ""
        try:
            factory(name)
        except ChainMisconfigured as exc:
            out.append(PluginStatus(name, ep.value, dist, False, str(exc.__cause__ or exc)))
            continue
        out.append(PluginStatus(name, ep.value, dist, True))
    return out
