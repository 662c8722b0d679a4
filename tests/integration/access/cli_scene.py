"""A hub over mutual TLS and `tonglian` run as a child process with each principal's
certificate: what the attack tests of this folder drive, as users would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tonglian_client.credentials import Credentials
from tonglian_tools.hub_process import HubProcess


class CliScene:
    def __init__(self, hub: HubProcess, state: Path, cwd: Path) -> None:
        assert hub.credentials is not None
        self.hub = hub
        self.state = state
        self.cwd = cwd
        self.ops = hub.credentials

    def run(
        self, creds: Credentials | None, *args: str, check: int | None = 0
    ) -> subprocess.CompletedProcess[str]:
        """`tonglian ARGS` as the holder of `creds` runs it (devnets' state in `state`)."""
        env = {
            **os.environ,
            "TONGLIAN_HUB": self.hub.address,
            "TONGLIAN_STATE_DIR": str(self.state),
            # `devnet up` writes its anchors here, not into the user's anchors folder.
            "TONGLIAN_ANCHORS": str(self.state / "anchors"),
        }
        for name in ("TONGLIAN_CERT", "TONGLIAN_KEY", "TONGLIAN_CA"):
            env.pop(name, None)
        if creds is not None:
            env.update(
                TONGLIAN_CERT=str(creds.cert),
                TONGLIAN_KEY=str(creds.key),
                TONGLIAN_CA=str(creds.ca),
            )
        result = subprocess.run(
            [sys.executable, "-P", "-m", "hub.cli.main", *args],
            env=env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if check is not None:
            assert result.returncode == check, (result.stdout, result.stderr)
        return result
