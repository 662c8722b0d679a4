"""README "Using it": the first `sh` block runs as printed, in order, every line exiting 0.

It runs as a newcomer runs it: a fresh folder holding what a clone holds that the block
names (docs/examples), HOME and the XDG folders empty, no TONGLIAN_* settings, and
`tonglian` on PATH. The block is run as one script (`bash -e`: the first line that fails
ends it, and `-x` names it); its `tonglian serve ... &` is stopped by the block's own
`kill %1`, which the test checks; whatever the block left is stopped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
HUB = ("127.0.0.1", 50051)


def using_it_block(readme: str) -> str:
    """The first ```sh block under the "## Using it" heading."""
    section = readme.split("\n## Using it\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found, "README's Using it section has no sh block"
    return found.group(1)


def _listening(address: tuple[str, int]) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(address) == 0


def _newcomer_env(tmp: Path) -> dict[str, str]:
    """A clean environment: nothing configured, `tonglian` on PATH running this tree."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    tonglian = bin_dir / "tonglian"
    tonglian.write_text(f'#!/bin/sh\nexec {sys.executable} -P -m hub.cli.main "$@"\n')
    tonglian.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TONGLIAN_", "XDG_"))}
    paths = [str(REPO), str(REPO / "proto" / "gen"), env.get("PYTHONPATH", "")]
    home = tmp / "home"
    home.mkdir()
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=os.pathsep.join(p for p in paths if p),
    )
    return env


def test_the_block_is_found_and_names_no_missing_file() -> None:
    readme = (REPO / "README.md").read_text()
    block = using_it_block(readme)
    assert "tonglian serve" in block and "kill %1" in block
    for path in re.findall(r"docs/\S+", block):
        assert (REPO / path).is_file(), f"the block names {path}, which a clone does not have"
    # Every file the README links is in the clone (nothing outside it, like ../shared/).
    for link in re.findall(r"\]\(([^)#]+)\)", readme):
        if "://" not in link:
            assert (REPO / link).resolve().is_relative_to(REPO), link
            assert (REPO / link).exists(), link
    assert "../" not in readme


def test_using_it_runs_as_printed(tmp_path: Path) -> None:
    if _listening(HUB):
        pytest.fail(f"{HUB[0]}:{HUB[1]} is taken: the README's hub cannot listen there")
    work = tmp_path / "clone"
    shutil.copytree(REPO / "docs" / "examples", work / "docs" / "examples")
    script = work / "using-it.sh"
    script.write_text(using_it_block((REPO / "README.md").read_text()))
    env = _newcomer_env(tmp_path)
    # Files, not pipes: the processes the block starts in the background keep its
    # output open after it ends.
    out_file, err_file = tmp_path / "stdout", tmp_path / "stderr"
    with out_file.open("w") as stdout, err_file.open("w") as stderr:
        proc = subprocess.Popen(
            ["bash", "-e", "-x", str(script)],
            cwd=work, env=env, stdout=stdout, stderr=stderr, start_new_session=True,
        )  # fmt: skip
    try:
        proc.wait(timeout=200)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    out, err = out_file.read_text(), err_file.read_text()
    try:
        assert proc.returncode == 0, f"stdout:\n{out[-3000:]}\nstderr:\n{err[-5000:]}"
        anchor = tmp_path / "home" / ".config" / "tonglian" / "anchors" / "custom-1.json"
        assert anchor.is_file(), "devnet up wrote no anchor where verify looks"
        assert "(check it offline: tonglian verify licence.pb)" in out, out
        assert "licence.pb: verified" in out, out
        assert "stopped: custom" in out
        # `kill %1` stopped the hub: nothing listens at its address any more.
        deadline = time.monotonic() + 10
        while _listening(HUB) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _listening(HUB), "the hub still listens after the block's kill %1"
    finally:
        with_pg = subprocess.run(
            [sys.executable, "-P", "-m", "hub.cli.main", "devnet", "down"],
            cwd=work, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert with_pg.returncode == 0, with_pg.stderr
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the hub, had the block not stopped it
