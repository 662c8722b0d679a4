"""`tonglian devnet up` leaves what the next commands need: each chain's trust anchor in
the anchors folder (`--anchors`, default under XDG_CONFIG_HOME) where `tonglian verify`
looks, and, for EVM, the inbox address a route delivers to. Its help names the state
folder option."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf.json_format import Parse

from tonglian.v1 import chains_pb2

pytestmark = pytest.mark.integration


def tonglian(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TONGLIAN_", "XDG_"))}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), HOME=str(tmp_path))
    return subprocess.run(
        [sys.executable, "-P", "-m", "hub.cli.main", *argv], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_devnet_up_help_names_the_state_folder_and_anchors_options(tmp_path: Path) -> None:
    shown = tonglian(tmp_path, "devnet", "up", "--help")
    assert shown.returncode == 0, shown.stderr
    assert "--state-dir DIR" in shown.stdout and "TONGLIAN_STATE_DIR" in shown.stdout
    assert "--anchors DIR" in shown.stdout


def test_devnet_up_evm_prints_its_inbox_and_writes_its_anchor(tmp_path: Path) -> None:
    state = tmp_path / "state"
    up = tonglian(tmp_path, "devnet", "up", "evm", "--state-dir", str(state))
    try:
        assert up.returncode == 0, up.stderr
        info = json.loads((state / "evm" / "devnet.json").read_text())
        inbox = info["extra"]["inbox_address"]
        assert re.fullmatch(r"0x[0-9a-fA-F]{40}", inbox)
        assert f"  inbox {inbox}: a route delivers to it as destination evm-1/{inbox}\n" in (
            up.stdout
        )
        hint = f"`TONGLIAN_STATE_DIR={state} tonglian chains add --from-devnet evm`"
        assert f"; register it with {hint}\n" in up.stdout
        anchor_file = tmp_path / "config" / "tonglian" / "anchors" / "evm-1.json"
        assert f"  trust anchor written to {anchor_file} (`tonglian verify` uses it)" in up.stdout
        anchor = Parse(anchor_file.read_text(), chains_pb2.TrustAnchor())
        registered = Parse(json.dumps(info["chain"]), chains_pb2.Chain())
        assert anchor == registered.trust_anchor and anchor.HasField("evm")
    finally:
        down = tonglian(tmp_path, "devnet", "down", "evm", "--state-dir", str(state))
        assert down.returncode == 0, down.stderr
