"""Where Fabric's release binaries are: `FABRIC_HOME` (the release layout), else `peer` on PATH.

Tonglian never builds Fabric; it runs the binaries an operator installed. When
none are found, `tonglian devnet up fabric` stops and the live tests skip, both
with `MISSING_BINARIES_REASON`, so the fix is spelled out once.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from devnets.process import DevnetError

COMMANDS = ("peer", "orderer", "osnadmin", "configtxgen", "cryptogen")
CCAAS_STEPS = ("detect", "build", "release")

MISSING_BINARIES_REASON = (
    "Hyperledger Fabric release binaries not found: install the official Fabric v3.1 release "
    "(https://github.com/hyperledger/fabric/releases: fabric_*.tar.gz with bin/, config/ and "
    "builders/ccaas/) and set FABRIC_HOME to its folder, or put its bin/ on PATH"
)


class FabricNotInstalled(DevnetError):
    """No usable Fabric release was found; the message says how to install one."""


@dataclass(frozen=True)
class FabricRelease:
    """One Fabric release on disk, laid out as the official archive."""

    home: Path

    @property
    def bin(self) -> Path:
        return self.home / "bin"

    @property
    def config(self) -> Path:
        """`core.yaml`, `orderer.yaml` and `configtx.yaml`: the templates the devnet starts from."""
        return self.home / "config"

    @property
    def ccaas_builder(self) -> Path:
        """The folder holding `bin/detect|build|release`, as core.yaml's externalBuilders wants."""
        return self.home / "builders" / "ccaas"

    def command(self, name: str) -> str:
        return str(self.bin / name)

    def missing(self) -> list[str]:
        """Files of the layout that are absent or not executable."""
        need = [self.bin / c for c in COMMANDS]
        need += [self.ccaas_builder / "bin" / s for s in CCAAS_STEPS]
        absent = [str(p) for p in need if not os.access(p, os.X_OK)]
        absent += [
            str(self.config / f)
            for f in ("core.yaml", "orderer.yaml", "configtx.yaml")
            if not (self.config / f).is_file()
        ]
        return absent


def find_release(environ: dict[str, str] | None = None) -> FabricRelease | None:
    """The release under FABRIC_HOME, else the one whose bin/ holds `peer` on PATH."""
    env = dict(os.environ) if environ is None else environ
    home = env.get("FABRIC_HOME")
    if home:
        release = FabricRelease(Path(home).expanduser().resolve())
        return release if not release.missing() else None
    peer = shutil.which("peer", path=env.get("PATH"))
    if peer:
        release = FabricRelease(Path(peer).resolve().parent.parent)
        return release if not release.missing() else None
    return None


def require_release() -> FabricRelease:
    """The release to run, or FabricNotInstalled carrying MISSING_BINARIES_REASON."""
    release = find_release()
    if release is None:
        raise FabricNotInstalled(MISSING_BINARIES_REASON)
    return release
