"""The aims table of `make bench`: met, missed (with where to read why), or not measured."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

# bench/ is a folder of scripts, not an installed package: its module is loaded by path.
_spec = importlib.util.spec_from_file_location(
    "bench_aims", Path(__file__).resolve().parents[3] / "bench" / "aims.py"
)
assert _spec is not None and _spec.loader is not None
aims = importlib.util.module_from_spec(_spec)
sys.modules["bench_aims"] = aims  # dataclasses look their module up by name
_spec.loader.exec_module(aims)
aims_section = aims.aims_section


def _results() -> dict[str, Any]:
    return {
        "custom_query": {
            "rows": [
                {"record_bytes": 1024, "linked_chains": 1, "p50_ratio": 1.9},
                {"record_bytes": 1024, "linked_chains": 5, "p50_ratio": 9.0},
            ],
            "verifier": {"ratio": 0.75},
        },
        "evm_query": {"p50_ratio_vs_raw_rpc": 2.5, "verify_vs_raw_ratio": 0.81},
        "fabric_query": {"skipped": "no binaries"},
        "fabric_verify": {"error": "crashed"},
        "serve_start": {"serving_p50_s": 1.2},
        "cli_start": {"rows": [{"command": "tonglian --help", "median_s": 0.31}]},
        "relay": {
            "rows": [
                {
                    "pair": "custom→custom",
                    "record_bytes": 1024,
                    "routes": 20,
                    "relay_vs_direct": 0.79,
                },
                {"pair": "evm→custom", "record_bytes": 1024, "routes": 1, "skipped": "x"},
            ]
        },
    }


def test_each_aim_is_judged_on_its_own_figure() -> None:
    rows = {line.split(" | ")[0].lstrip("| "): line for line in aims_section(_results())}
    assert rows["custom GetRecord p50 / direct read ≤ ×2.0"].endswith("| ×1.9 | yes |")
    assert rows["EVM GetRecord p50 / raw JSON-RPC read ≤ ×2.5"].endswith("| ×2.5 | yes |")
    assert rows["signed-Merkle verifier / Ed25519 bound ≥ 80 %"].endswith(
        "| 75 % | no: bench/PROFILE.md § Verifier throughput against raw bounds |"
    )
    assert rows["EVM verifier / keccak + RLP bound ≥ 80 %"].endswith("| 81 % | yes |")
    assert rows["`tonglian serve` until Query SERVING ≤ 2.0 s"].endswith("| 1.2 s | yes |")
    assert rows["`tonglian --help` ≤ 0.3 s"].endswith(
        "| 0.31 s | no: bench/PROFILE.md § CLI start |"
    )


def test_what_was_not_measured_is_never_called_met() -> None:
    rows = {line.split(" | ")[0].lstrip("| "): line for line in aims_section(_results())}
    assert rows["Fabric GetRecord p50 / Gateway evaluate ≤ ×2.5"].endswith("| not measured | — |")
    assert rows["Fabric verifier / ECDSA bound ≥ 70 %"].endswith("| not measured | — |")
    assert rows["`tonglian chains list (no hub)` ≤ 0.3 s"].endswith("| not measured | — |")


def test_every_measured_relay_row_is_an_aim() -> None:
    lines = [line for line in aims_section(_results()) if line.startswith("| relay")]
    assert lines == [
        "| relay custom→custom, 1 KiB, 20 route(s) / direct ≥ 80 % | 79 % "
        "| no: bench/PROFILE.md § Relay |"
    ]
