"""README command 1: `tonglian demo` runs end to end and leaves nothing running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_demo(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli.main", "demo", "--out-dir", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "verified yes (signed_merkle proof)" in result.stdout
    assert "re-verified it offline" in result.stderr
    assert "refused (" in result.stderr
    assert "stopped the hub and the ledger" in result.stderr
    assert (tmp_path / "out" / "licence.bundle.pb").stat().st_size > 0
    verify = subprocess.run(
        [
            sys.executable,
            "-m",
            "hub.cli.main",
            "verify",
            str(tmp_path / "out" / "licence.bundle.pb"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stderr
    leftovers = subprocess.run(
        ["pgrep", "-f", "tonglian-demo-"], capture_output=True, text=True
    )
    assert leftovers.stdout.strip() == ""
