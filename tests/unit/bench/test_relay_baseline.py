"""The relay benchmark's baseline: the fastest direct run of the rows doing the same
direct work, never a row's slow run alone."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "bench_relay", Path(__file__).resolve().parents[3] / "bench" / "relay.py"
)
assert _spec is not None and _spec.loader is not None
relay = importlib.util.module_from_spec(_spec)
sys.modules["bench_relay"] = relay
_spec.loader.exec_module(relay)


def test_rows_with_the_same_records_share_the_fastest_direct_run() -> None:
    rows = [
        {"records": 400, "record_bytes": 1024, "routes": 1, "direct_runs_per_s": [71.4, 69.6],
         "relay_per_s": 68.0},
        {"records": 400, "record_bytes": 1024, "routes": 20, "direct_runs_per_s": [71.7, 77.3],
         "relay_per_s": 62.1},
        {"records": 120, "record_bytes": 16384, "routes": 1, "direct_runs_per_s": [46.9, 48.1],
         "relay_per_s": 37.4},
        {"records": 60, "record_bytes": 1048576, "routes": 1, "skipped": "refused"},
        {"records": 400, "record_bytes": 1024, "routes": 1, "skipped": "failed: Timeout"},
    ]  # fmt: skip
    relay.share_baselines(rows)
    assert [r.get("direct_per_s") for r in rows] == [77.3, 77.3, 48.1, None, None]
    assert [r.get("relay_vs_direct") for r in rows] == [
        relay.ratio(68.0, 77.3),
        relay.ratio(62.1, 77.3),
        relay.ratio(37.4, 48.1),
        None,
        None,
    ]
