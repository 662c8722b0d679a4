"""README command 1: `tonglian demo` tells the one-visit story end to end, and leaves
nothing running, whether it finishes or is interrupted with Ctrl-C (SIGINT).

Every process the demo starts (chains, hub, their children) inherits a marker in
its environment, so "nothing left running" is checked over all of them, whatever
their command line or process group.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from devnets.fabric.binaries import find_release

pytestmark = pytest.mark.integration

MARK = "TONGLIAN_DEMO_TEST_MARK"
REPO = Path(__file__).resolve().parents[2]


def _env(mark: str, *, fabric: bool) -> dict[str, str]:
    env = {**os.environ, MARK: mark, "PYTHONPATH": str(REPO)}
    if not fabric:
        # As on a fresh clone: no Fabric release anywhere.
        env.pop("FABRIC_HOME", None)
        env["PATH"] = os.pathsep.join(
            p for p in env.get("PATH", "").split(os.pathsep) if not (Path(p) / "peer").exists()
        )
    return env


def _marked(mark: str) -> list[str]:
    """Live processes (not zombies) whose environment carries the mark."""
    needle = f"{MARK}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            stat = (entry / "stat").read_text()
            if stat.rsplit(") ", 1)[1][0] == "Z":
                continue
            found.append(f"{entry.name}: {(entry / 'cmdline').read_bytes()[:120]!r}")
        except (OSError, IndexError):
            continue
    return found


def _assert_nothing_left(mark: str) -> None:
    deadline = time.monotonic() + 5
    while (left := _marked(mark)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == [], f"still running after the demo: {left}"


def _demo(tmp_path: Path, mark: str, *, fabric: bool) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-P", "-m", "hub.cli.main", "demo", "--out-dir", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env=_env(mark, fabric=fabric),
    )


def _assert_story(result: subprocess.CompletedProcess[str], out: Path, regulator: str) -> None:
    err = result.stderr
    assert result.returncode == 0, err[-3000:]
    assert f"registered {regulator}" in err
    assert "registered evm-tax (EVM chain (anvil)) with its trust anchors" in err
    assert "registered custom-psb (custom ledger) with its trust anchors" in err
    assert "regulator reads gov.tax.clearance/v1: verified (evm proof" in err
    assert "regulator reads gov.residence.certificate/v1: verified (signed_merkle proof" in err
    assert "the same read for purpose 'marketing' is refused: PERMISSION_DENIED" in err
    assert "is the applicant resident in 上海 today?': yes in " in err
    assert "the answer carries no record" in err
    assert f"regulator issues licence 91310115MA1K4TL001 on {regulator}" in err
    assert "delivered to custom-psb: confirmed in block" in err
    assert "delivered to evm-tax: confirmed in block" in err
    assert err.count("the destination chain holds it once") == 2
    assert "public security bureau reads its forwarded copy: verified (signed_merkle" in err
    assert "refused (" in err
    assert "the hub's log: intact: " in err
    assert "stopped the hub and every chain" in err
    assert "record   custom-psb/licences-from-amr/91310115MA1K4TL001" in result.stdout
    assert "verified yes (signed_merkle proof)" in result.stdout
    for name in ("tax-clearance", "residence", "licence", "licence-forwarded"):
        assert (out / f"{name}.bundle.pb").stat().st_size > 0
    assert (out / "residence.answer.json").stat().st_size > 0


def test_demo_without_fabric(tmp_path: Path) -> None:
    mark = uuid.uuid4().hex
    started = time.monotonic()
    result = _demo(tmp_path, mark, fabric=False)
    took = time.monotonic() - started
    _assert_story(result, tmp_path / "out", "custom-amr")
    assert "Fabric binaries not found" in result.stderr
    assert took < 90, f"the demo took {took:.0f}s"
    # The closing hint works as printed; the status page is not offered once the hub is gone.
    printed = result.stdout + result.stderr
    assert "Status page" not in printed and "curl " not in printed
    (hint,) = [ln.strip() for ln in printed.splitlines() if ln.startswith("  tonglian verify ")]
    copied = subprocess.run(
        [sys.executable, "-P", "-m", "hub.cli.main", *shlex.split(hint)[1:]],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=_env(mark, fabric=False),
    )  # fmt: skip
    assert copied.returncode == 0, (hint, copied.stdout, copied.stderr)
    assert ": verified custom-psb/licences-from-amr/91310115MA1K4TL001" in copied.stdout
    for name in ("tax-clearance", "licence-forwarded"):
        verify = subprocess.run(
            [
                sys.executable,
                "-m",
                "hub.cli.main",
                "verify",
                str(tmp_path / "out" / f"{name}.bundle.pb"),
                "--anchors",
                str(tmp_path / "out" / "anchors"),
                "--hub-key",
                str(tmp_path / "out" / "hub-ca.crt"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert verify.returncode == 0, verify.stderr
    _assert_nothing_left(mark)


@pytest.mark.fabric_live
def test_demo_with_fabric(tmp_path: Path) -> None:
    if find_release() is None:
        pytest.skip("no Fabric release binaries (FABRIC_HOME or peer on PATH)")
    mark = uuid.uuid4().hex
    result = _demo(tmp_path, mark, fabric=True)
    _assert_story(result, tmp_path / "out", "fabric-amr")
    assert "regulator reads back the licence from fabric-amr: verified (fabric proof" in (
        result.stderr
    )
    _assert_nothing_left(mark)


@pytest.mark.parametrize(
    "interrupt_after",
    [
        "starting the agencies' chains",  # while the chains come up
        "registered custom-psb",  # chains and hub up, routes not yet made
        "regulator issues licence",  # deliveries in flight
    ],
)
def test_ctrl_c_leaves_nothing_running(tmp_path: Path, interrupt_after: str) -> None:
    mark = uuid.uuid4().hex
    proc = subprocess.Popen(
        [sys.executable, "-P", "-m", "hub.cli.main", "demo", "--out-dir", str(tmp_path / "out")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=_env(mark, fabric=False),
    )
    assert proc.stderr is not None
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if interrupt_after in line:
                break
        else:
            pytest.fail(f"the demo ended before {interrupt_after!r}:\n{''.join(seen)}")
        if interrupt_after.startswith("starting"):
            time.sleep(0.5)  # let the chain processes exist
        assert _marked(mark), "the demo should have processes running by now"
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 130, "".join(seen) + rest
    assert "interrupted" in rest
    assert "stopped the hub and every chain" in rest
    _assert_nothing_left(mark)


def test_demo_keep_leaves_the_status_page_up_until_its_stop_commands(tmp_path: Path) -> None:
    import json
    import ssl
    import urllib.request

    mark = uuid.uuid4().hex
    result = subprocess.run(
        [sys.executable, "-P", "-m", "hub.cli.main", "demo", "--out-dir", str(tmp_path / "out"),
         "--keep", "--json"],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
        env=_env(mark, fabric=False),
    )  # fmt: skip
    try:
        assert result.returncode == 0, result.stderr[-3000:]
        summary = json.loads(result.stdout)
        assert summary["kept"] is True and summary["ok"] is True
        assert summary["status_url"] in result.stderr or summary["status_url"].startswith(
            "https://127.0.0.1:"
        )
        creds = summary["credentials"]
        context = ssl.create_default_context(cafile=creds["ca"])
        context.check_hostname = False
        context.load_cert_chain(creds["cert"], creds["key"])
        with urllib.request.urlopen(summary["status_url"], context=context, timeout=30) as page:
            assert page.status == 200
            html = page.read().decode()
        for chain_id in summary["chains"]:
            assert chain_id in html
    finally:
        # As the user runs them: `tonglian` on PATH (the venv's).
        env = _env(mark, fabric=False)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        for command in summary["stop"] if result.returncode == 0 else []:
            done = subprocess.run(
                command, shell=True, env=env, timeout=60, capture_output=True, text=True
            )
            assert done.returncode == 0, (command, done.stderr)
    _assert_nothing_left(mark)
