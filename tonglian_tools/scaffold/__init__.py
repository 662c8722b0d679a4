"""`tonglian adapter new NAME`: a new adapter package, installable and wired to the kit.

The package names its factory in the `tonglian.adapters` entry-point group, so
once `pip install -e` puts it in the hub's environment, `tonglian adapter list`
shows it and chains can be registered with `--adapter NAME`.
"""

from __future__ import annotations

import re
from pathlib import Path

from tonglian_tools.scaffold.templates import FILES

NAME = re.compile(r"^[a-z][a-z0-9-]{1,39}$")
RESERVED = frozenset({"remote", "custom", "evm", "fabric", "annals"})


class ScaffoldError(Exception):
    """The name is unusable, or (`conflict`) the target folder exists."""

    def __init__(self, message: str, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.conflict = conflict


def create_package(name: str, parent: Path) -> Path:
    """Writes the package for adapter NAME under PARENT; returns its folder."""
    if not NAME.match(name):
        raise ScaffoldError(
            f"adapter name {name!r} must be 2-40 lower-case letters, digits or '-', "
            "starting with a letter"
        )
    if name in RESERVED:
        raise ScaffoldError(f"adapter name {name!r} is taken by a built-in adapter")
    module = "tonglian_adapter_" + name.replace("-", "_")
    root = parent / f"tonglian-adapter-{name}"
    if root.exists():
        raise ScaffoldError(f"{root} already exists", conflict=True)
    values = {
        "name": name,
        "module": module,
        "class_name": "".join(p.capitalize() for p in name.split("-")) + "Adapter",
        "env": name.upper().replace("-", "_"),
    }
    for rel, text in FILES.items():
        path = root / rel.format(**values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(**values))
    return root
