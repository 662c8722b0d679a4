"""Which devnet kinds exist, imported lazily so one kind's dependencies never burden another."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from devnets.base import Devnet, default_state_root

KINDS: dict[str, str] = {
    "custom": "devnets.custom.network:CustomDevnet",
    "evm": "devnets.evm.network:EvmDevnet",
    "fabric": "devnets.fabric.network:FabricDevnet",
    "annals": "devnets.annals.network:AnnalsDevnet",
    "postgres": "devnets.postgres.network:PostgresDevnet",
}


def create(kind: str, state_root: Path | None = None, **options: Any) -> Devnet:
    """The devnet of KIND with its state under `state_root/KIND`; `options` go to its class."""
    try:
        target = KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown devnet kind {kind!r}; known: {', '.join(KINDS)}") from None
    module_name, cls_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    root = state_root or default_state_root()
    devnet: Devnet = cls(root / kind, **options)
    return devnet
