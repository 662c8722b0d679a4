"""The CLI tests' runner fixture: `tonglian` against the test's hub, in the test's folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cli.runner import Cli
from tonglian_tools.hub_process import HubProcess


@pytest.fixture
def cli(tmp_path: Path, hub_process: HubProcess) -> Iterator[Cli]:
    """`tonglian` against the test's hub; a custom devnet it starts is stopped afterwards."""
    env = {
        **os.environ,
        "TONGLIAN_HUB": hub_process.address,
        "TONGLIAN_STATE_DIR": str(tmp_path / "state"),
    }
    run = Cli(env, tmp_path)
    try:
        yield run
    finally:
        run("devnet", "down", "custom", check=None)
