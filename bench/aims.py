"""The aims the benchmarks are held to, and whether this run met each one.

Every aim names where its figure comes from and, when a run misses it, the section of
bench/PROFILE.md that shows where the time goes and what is left (issue 16's "met or,
where not, the profile that shows why"). A figure that was not measured (a chain kind
missing, a script that failed) is reported as such, never as met.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PROFILE = "bench/PROFILE.md"


@dataclass(frozen=True)
class Aim:
    what: str
    # "<=" (a ratio or time that must stay under) or ">=" (a share that must reach).
    sense: str
    target: float
    unit: str
    # Reads the figure from the run's results; None when it was not measured.
    figure: Callable[[dict[str, Any]], float | None]
    profile_section: str

    def met(self, value: float) -> bool:
        return value <= self.target if self.sense == "<=" else value >= self.target

    def show(self, value: float) -> str:
        if self.unit == "%":
            return f"{value * 100:.0f} %"
        if self.unit == "×":
            return f"×{value}"
        return f"{value} {self.unit}"


def _get(*path: str | int) -> Callable[[dict[str, Any]], float | None]:
    def read(results: dict[str, Any]) -> float | None:
        node: Any = results
        for step in path:
            try:
                node = node[step]
            except (KeyError, IndexError, TypeError):
                return None
        return float(node) if isinstance(node, int | float) else None

    return read


def _cli(command: str) -> Callable[[dict[str, Any]], float | None]:
    def read(results: dict[str, Any]) -> float | None:
        for row in results.get("cli_start", {}).get("rows", []):
            if row.get("command") == command:
                return float(row["median_s"])
        return None

    return read


def _custom_1kib(results: dict[str, Any]) -> float | None:
    for row in results.get("custom_query", {}).get("rows", []):
        if row.get("record_bytes") == 1024 and row.get("linked_chains") == 1 and "p50_ratio" in row:
            return float(row["p50_ratio"])
    return None


QUERY = "Custom ledger GetRecord"
AIMS: list[Aim] = [
    Aim("custom GetRecord p50 / direct read", "<=", 2.0, "×", _custom_1kib, QUERY),
    Aim(
        "EVM GetRecord p50 / raw JSON-RPC read",
        "<=",
        2.5,
        "×",
        _get("evm_query", "p50_ratio_vs_raw_rpc"),
        "EVM GetRecord",
    ),
    Aim(
        "Fabric GetRecord p50 / Gateway evaluate",
        "<=",
        2.5,
        "×",
        _get("fabric_query", "p50_ratio"),
        "Fabric GetRecord",
    ),
    Aim(
        "Fabric verifier / ECDSA bound",
        ">=",
        0.70,
        "%",
        _get("fabric_verify", "ratio"),
        "Verifier throughput against raw bounds",
    ),
    Aim(
        "signed-Merkle verifier / Ed25519 bound",
        ">=",
        0.80,
        "%",
        _get("custom_query", "verifier", "ratio"),
        "Verifier throughput against raw bounds",
    ),
    Aim(
        "EVM verifier / keccak + RLP bound",
        ">=",
        0.80,
        "%",
        _get("evm_query", "verify_vs_raw_ratio"),
        "Verifier throughput against raw bounds",
    ),
    Aim(
        "`tonglian serve` until Query SERVING",
        "<=",
        2.0,
        "s",
        _get("serve_start", "serving_p50_s"),
        "`tonglian serve` until tonglian.v1.Query SERVING",
    ),
    Aim(
        "gateway GetRecord p50 / gRPC GetRecord",
        "<=",
        1.3,
        "×",
        _get("gateway_read", "p50_ratio"),
        "HTTP/JSON gateway GetRecord",
    ),
    Aim(
        "other agency's GetRecord p99 under a 3,000-stream flood / idle",
        "<=",
        2.0,
        "×",
        _get("stream_flood", "p99_ratio"),
        "Stream flood",
    ),
    *(
        Aim(f"`{cmd}`", "<=", 0.3, "s", _cli(cmd), "CLI start")
        for cmd in (
            "tonglian --help",
            "tonglian verify --help",
            "tonglian chains list (no hub)",
        )
    ),
]


def _constant(value: float) -> Callable[[dict[str, Any]], float | None]:
    return lambda _results: value


def relay_aims(results: dict[str, Any]) -> list[Aim]:
    """One aim per relay row measured: every pair of kinds, 20 routes on one source, 16 KiB
    and 255 KiB records each reach 80 % of the destination's direct rate (issue 15)."""
    aims = []
    for row in results.get("relay", {}).get("rows", []):
        if "relay_vs_direct" not in row:
            continue
        value = float(row["relay_vs_direct"])
        what = (
            f"relay {row['pair']}, {row['record_bytes'] // 1024} KiB, "
            f"{row['routes']} route(s) / direct"
        )
        aims.append(Aim(what, ">=", 0.80, "%", _constant(value), "Relay"))
    return aims


def aims_section(results: dict[str, Any]) -> list[str]:
    """A Markdown table: every aim, this run's figure, met or not (and where to read why)."""
    out = [
        "## Aims",
        "",
        f"Where an aim is not met, the section of {PROFILE} named shows where the time goes.",
        "",
        "| aim | this run | met |",
        "|---|---|---|",
    ]
    for aim in [*AIMS, *relay_aims(results)]:
        value = aim.figure(results)
        wanted = f"{aim.what} {'≤' if aim.sense == '<=' else '≥'} {aim.show(aim.target)}"
        if value is None:
            out.append(f"| {wanted} | not measured | — |")
        elif aim.met(value):
            out.append(f"| {wanted} | {aim.show(value)} | yes |")
        else:
            out.append(f"| {wanted} | {aim.show(value)} | no: {PROFILE} § {aim.profile_section} |")
    return out
