"""Progress on long work: drawn on a terminal, silent in pipes and under --json.

The terminal is a real pseudo-terminal (pty), for the Meter itself and for a real
`tonglian audit verify` process over a large export.
"""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from hub.audit.export_file import AuditExport, write_export
from hub.cli.progress import Meter
from tonglian.v1 import audit_pb2
from tonglian_proof.audit_hash import GENESIS, event_hash

ROOT = Path(__file__).resolve().parents[3]


def _drain(fd: int, timeout: float = 0.2) -> bytes:
    """What the terminal side received, without blocking once it is quiet."""
    out = b""
    while select.select([fd], [], [], timeout)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        out += chunk
    return out


def test_meter_draws_counts_and_rate_in_place_on_a_terminal() -> None:
    master, slave = pty.openpty()
    with open(slave, "w", closefd=True) as terminal:
        meter = Meter("audit verify", total=1000, unit="events", stream=terminal, interval=0)
        meter.advance(500)
        meter.step("recomputing the hash chain")
        meter.close()
        shown = _drain(master).decode()
    os.close(master)
    assert "\r\x1b[K" in shown  # redrawn in place, not a new line per update
    assert "audit verify: 500/1,000 events" in shown
    assert "/s" in shown and "recomputing the hash chain" in shown
    assert shown.endswith("\r\n")  # the final line is ended once (the pty maps \n to \r\n)


def test_meter_is_silent_when_not_a_terminal_or_quiet() -> None:
    pipe = io.StringIO()
    with Meter("devnet up", stream=pipe, interval=0) as meter:
        meter.step("custom: starting")
        meter.advance(3)
    assert pipe.getvalue() == ""

    master, slave = pty.openpty()
    with open(slave, "w", closefd=True) as terminal:
        with Meter("devnet up", quiet=True, stream=terminal, interval=0) as meter:
            meter.step("custom: starting")
        assert _drain(master) == b""
    os.close(master)


def test_steps_without_counts_show_the_step_number() -> None:
    meter = Meter("devnet up", stream=io.StringIO())
    meter.step("custom: starting")
    meter.step("custom: validators up")
    assert meter.line().startswith("devnet up: step 2  ")
    assert meter.line().endswith("custom: validators up")


def _export(path: Path, n: int) -> None:
    events, previous = [], GENESIS
    for seq in range(1, n + 1):
        event = audit_pb2.AuditEvent(
            sequence=seq,
            previous_hash=previous,
            principal="tax-bureau/bob",
            action="query.get_record",
            target=f"custom-1/tax/T-{seq}",
            purpose="assessment",
            outcome="ok",
        )
        event.hash = event_hash(event)
        previous = event.hash
        events.append(event)
    write_export(path, AuditExport(n, previous, events))


def _run_on_terminal(argv: list[str]) -> tuple[int, str]:
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-P", "-m", "hub.cli.main", *argv],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=ROOT,
        env=env,
    )
    os.close(slave)
    try:
        shown = b""
        while True:
            ready = select.select([master], [], [], 60)[0]
            if not ready:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
        code = proc.wait(timeout=60)
    finally:
        proc.kill()
        os.close(master)
    return code, shown.decode()


def test_audit_verify_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _export(path, 3000)

    code, shown = _run_on_terminal(["audit", "verify", "--file", str(path)])
    assert code == 0, shown
    assert "\x1b[K" in shown and "audit verify: 3,000 events" in shown
    assert "intact: 3000 events chained by hash" in shown

    code, shown = _run_on_terminal(["audit", "verify", "--file", str(path), "--json"])
    assert code == 0, shown
    assert "audit verify:" not in shown and '"intact": true' in shown

    piped = subprocess.run(
        [sys.executable, "-P", "-m", "hub.cli.main", "audit", "verify", "--file", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert piped.returncode == 0
    assert piped.stderr == "" and "intact: 3000 events" in piped.stdout
