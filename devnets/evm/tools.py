"""Where the pinned npm tools (anvil, solc) live: `npm ci` at the repo root installs them.

Nothing is downloaded at run time; a missing tool is an error that says which
command installs it.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from devnets.process import DevnetError

INSTALL_HINT = "run `npm ci --ignore-scripts` at the repository root"

_ANVIL_PACKAGES = {
    ("Linux", "x86_64"): "anvil-linux-amd64",
    ("Linux", "aarch64"): "anvil-linux-arm64",
    ("Darwin", "x86_64"): "anvil-darwin-amd64",
    ("Darwin", "arm64"): "anvil-darwin-arm64",
}


def node_modules() -> Path:
    """`$TONGLIAN_NODE_MODULES`, else the nearest node_modules above this file."""
    override = os.environ.get("TONGLIAN_NODE_MODULES")
    if override:
        return Path(override)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "node_modules"
        if candidate.is_dir():
            return candidate
    raise DevnetError(f"no node_modules folder found above {Path(__file__).parent}; {INSTALL_HINT}")


def anvil_binary() -> Path:
    """The anvil executable that `@foundry-rs/anvil` installed for this platform."""
    key = (platform.system(), platform.machine())
    package = _ANVIL_PACKAGES.get(key)
    if package is None:
        raise DevnetError(f"no anvil build for {key[0]} {key[1]} in @foundry-rs/anvil")
    path = node_modules() / "@foundry-rs" / package / "bin" / "anvil"
    if not os.access(path, os.X_OK):
        raise DevnetError(f"anvil not found at {path}; {INSTALL_HINT}")
    return path


def solc_package() -> Path:
    """The solc-js package folder (the compiler as WebAssembly, run by node)."""
    path = node_modules() / "solc"
    if not (path / "package.json").is_file():
        raise DevnetError(f"solc not found at {path}; {INSTALL_HINT}")
    return path
