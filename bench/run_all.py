"""Runs every benchmark and writes one table of ratios (Markdown and JSON) to bench/results/.

Each script runs as its own process with --json (so a crash of one is reported and
the others still run); every figure is a ratio against a baseline measured in the
same run, on the machine named at the top. A figure that cannot be measured here
(a chain kind missing) says why instead of showing a number.

    .venv/bin/python bench/run_all.py [--quick]      # or: make bench
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.aims import aims_section  # noqa: E402
from bench.machine import describe  # noqa: E402
from hub.cli.progress import Meter  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def scripts(quick: bool) -> dict[str, list[str]]:
    if quick:
        return {
            "custom_query": ["bench/custom_query.py", "--quick", "--reads", "60", "--seconds", "1"],
            "evm_query": ["bench/evm_query.py", "--reads", "60", "--seconds", "1"],
            "fabric_query": ["bench/fabric_query.py", "--reads", "60"],
            "fabric_verify": ["bench/fabric_verify.py", "--seconds", "1"],
            "sm2_verify": ["bench/sm2_verify.py", "--seconds", "1"],
            "serve_start": ["bench/serve_start.py", "--runs", "3"],
            "relay": ["bench/relay.py", "--quick"],
            "replicas": ["bench/replicas.py", "--quick"],
            "hub_memory": ["bench/hub_memory.py"],
            "stream_flood": ["bench/stream_flood.py", "--reads", "60"],
            "cli_start": ["bench/cli_start.py", "--runs", "3"],
            "gateway_read": ["bench/gateway_read.py", "--reads", "60"],
        }
    return {
        "custom_query": ["bench/custom_query.py", "--reads", "200", "--seconds", "2"],
        "evm_query": ["bench/evm_query.py", "--reads", "200", "--seconds", "2"],
        "fabric_query": ["bench/fabric_query.py", "--reads", "200"],
        "fabric_verify": ["bench/fabric_verify.py", "--seconds", "3"],
        "sm2_verify": ["bench/sm2_verify.py", "--seconds", "3"],
        "serve_start": ["bench/serve_start.py", "--runs", "5"],
        "relay": ["bench/relay.py"],
        "replicas": ["bench/replicas.py"],
        "hub_memory": ["bench/hub_memory.py"],
        "stream_flood": ["bench/stream_flood.py"],
        "cli_start": ["bench/cli_start.py"],
        "gateway_read": ["bench/gateway_read.py", "--reads", "200"],
    }


# A script that has not finished in this long is reported as failed, not waited on.
SCRIPT_TIMEOUT_S = 2400


def run_script(name: str, argv: list[str]) -> dict[str, Any]:
    started = time.monotonic()
    log = RESULTS / f"{name}.log"
    with open(log, "w") as err:
        try:
            proc = subprocess.run(
                [sys.executable, *argv, "--json"],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                timeout=SCRIPT_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return {
                "error": f"no result after {SCRIPT_TIMEOUT_S} s (log: {log})",
                "seconds": round(time.monotonic() - started, 1),
            }
    took = round(time.monotonic() - started, 1)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        return {
            "error": f"exit {proc.returncode}: {' | '.join(tail)} (log: {log})",
            "seconds": took,
        }
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["seconds"] = took
    return result


def pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    out = [
        "# Tonglian benchmarks",
        "",
        f"Machine: {m['cpus']} CPUs, {m['cpu_model']}, Python {m['python']}, {m['platform']}; "
        f"{'quick' if r['quick'] else 'full'} run, {r['seconds']:.0f} s.",
        "Every figure is a ratio against a baseline measured in the same run.",
        "",
        *aims_section(r["results"]),
        "",
        "## Query latency: verified read through the hub / direct read from the chain",
        "",
        "| chain | setting | hub p50 / p99 ms | direct p50 / p99 ms | ratio p50 | ratio p99 |",
        "|---|---|---|---|---|---|",
    ]
    cq = r["results"]["custom_query"]
    if "error" in cq:
        out.append(f"| custom | — | failed: {cq['error']} | | | |")
    else:
        for row in cq["rows"]:
            setting = f"{row['record_bytes'] // 1024} KiB, {row['linked_chains']} linked chain(s)"
            if "skipped" in row:
                out.append(f"| custom | {setting} | {row['skipped']} | | | |")
                continue
            out.append(
                f"| custom | {setting} | {row['hub_p50_ms']} / {row['hub_p99_ms']} | "
                f"{row['direct_p50_ms']} / {row['direct_p99_ms']} | "
                f"×{row['p50_ratio']} | ×{row['p99_ratio']} |"
            )
    eq = r["results"]["evm_query"]
    if "error" in eq:
        out.append(f"| evm | — | failed: {eq['error']} | | | |")
    else:
        out.append(
            f"| evm | 1 linked chain, small record; direct: eth_call + eth_getLogs in "
            f"parallel, raw JSON-RPC, one persistent connection | {eq['verified_read_p50_ms']} / "
            f"{eq['verified_read_p99_ms']} | {eq['direct_raw_rpc_p50_ms']} / "
            f"{eq['direct_raw_rpc_p99_ms']} | ×{eq['p50_ratio_vs_raw_rpc']} | "
            f"×{eq['p99_ratio_vs_raw_rpc']} |"
        )
        out.append(
            f"| evm | same, direct through web3's contract layer | | "
            f"{eq['direct_read_p50_ms']} / {eq['direct_read_p99_ms']} | ×{eq['p50_ratio']} | "
            f"×{eq['p99_ratio']} |"
        )
    fq = r["results"]["fabric_query"]
    if "error" in fq:
        out.append(f"| fabric | — | failed: {fq['error']} | | | |")
    elif "skipped" in fq:
        out.append(f"| fabric | — | {fq['skipped']} | | | |")
    else:
        out.append(
            f"| fabric | 1 linked chain, small record; direct: the Gateway's evaluate | "
            f"{fq['hub_p50_ms']} / {fq['hub_p99_ms']} | {fq['direct_p50_ms']} / "
            f"{fq['direct_p99_ms']} | ×{fq['p50_ratio']} | ×{fq['p99_ratio']} |"
        )
    out += [
        "",
        "## Verifications per second per proof kind / raw cryptographic bound (one core)",
        "",
        "| proof kind | verified / s | raw bound / s | of the bound |",
        "|---|---|---|---|",
    ]
    fv = r["results"]["fabric_verify"]
    if "error" in fv:
        out.append(f"| fabric (ECDSA P-256) | failed: {fv['error']} | | |")
    else:
        out.append(
            f"| fabric (ECDSA P-256, {fv['signatures_per_tx']} signatures per tx, captured "
            f"blocks) | {fv['verified_tx_per_s']} | {fv['tx_bound_per_s']} | {pct(fv['ratio'])} |"
        )
    if "error" not in cq:
        v = cq["verifier"]
        out.append(
            f"| signed_merkle (Ed25519, k={v['signatures_per_header']} signatures per header) | "
            f"{v['verified_records_per_s']} | {v['bound_records_per_s']} | {pct(v['ratio'])} |"
        )
    sm = r["results"]["sm2_verify"]
    if "error" in sm:
        out.append(f"| signed_merkle (SM2/SM3) | failed: {sm['error']} | | |")
    else:
        out.append(
            f"| signed_merkle (SM2/SM3, k={sm['signatures_per_header']} signatures per header; "
            f"bound: gmalglib's bare SM2 verify) | {sm['record_signature_verifies_per_s']} "
            f"signatures ({sm['verified_records_per_s']} records) | "
            f"{sm['bound_verifies_per_s']} | {pct(sm['record_ratio'])} |"
        )
        out.append(
            f"| SM2 signature alone (tonglian_proof.crypto.sm2.verify) | "
            f"{sm['sm2_verifies_per_s']} | {sm['bound_verifies_per_s']} | {pct(sm['sm2_ratio'])} |"
        )
    if "error" not in eq:
        out.append(
            f"| evm (keccak + RLP, {eq['proof_nodes_per_proof']} trie nodes per proof) | "
            f"{eq['verified_proofs_per_s']} | {eq['raw_keccak_rlp_proofs_per_s']} | "
            f"{pct(eq['verify_vs_raw_ratio'])} |"
        )
    ss = r["results"]["serve_start"]
    out += ["", "## Start: `tonglian serve` until health reports tonglian.v1.Query SERVING", ""]
    if "error" in ss:
        out.append(f"failed: {ss['error']}")
    else:
        out.append(
            f"p50 {ss['serving_p50_s']} s, max {ss['serving_max_s']} s over {ss['runs']} fresh "
            f"starts (aim ≤ {ss['aim_s']} s)."
        )
    rl = r["results"]["relay"]
    out += [
        "",
        "## Relay: records/s forwarded and confirmed / the destination's direct write rate",
        "",
        f"Same payloads, same concurrency ({rl.get('concurrency', 32)}) as the deliverer; "
        "latency from source commit to the hub storing the destination's confirmation, "
        "beside the chains' own block times. " + rl.get("method", ""),
        "",
        "| pair | record | routes on one source | records | direct / s (runs before, after) "
        "| relay / s | relay / direct | latency p50 / p99 ms | blocks ms src / dst |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    if "error" in rl:
        out.append(f"| — | failed: {rl['error']} | | | | | | | |")
    else:
        for row in rl["rows"]:
            size = f"{row['record_bytes'] // 1024} KiB"
            head = f"| {row['pair']} | {size} | {row['routes']} | {row['records']} |"
            if "skipped" in row:
                out.append(f"{head} {row['skipped']} | | | | |")
                continue
            runs = ", ".join(str(x) for x in row.get("direct_runs_per_s", []))
            out.append(
                f"{head} {row['direct_per_s']} ({runs}) | {row['relay_per_s']} | "
                f"{pct(row['relay_vs_direct'])} | {row['latency_p50_ms']} / "
                f"{row['latency_p99_ms']} | {row['block_ms']} |"
            )
        for note in rl.get("not_measured", []):
            out.append(f"| {note} | | | | | | | | |")
    hm = r["results"]["hub_memory"]
    out += ["", "## Hub memory", ""]
    if "error" in hm:
        out.append(f"failed: {hm['error']}")
    else:
        out.append(
            f"Resident memory of `tonglian serve` holding {hm['deliveries']:,} stored deliveries "
            f"({hm['store_mib']} MiB store) and {hm['routes']} active routes: "
            f"{hm['loaded_rss_mib']} MiB, against {hm['idle_rss_mib']} MiB for an idle hub: "
            f"×{hm['loaded_vs_idle']} (its verification pool's workers: {hm['pool_rss_mib']} MiB "
            "more, the same when idle)."
        )
    out += flood_section(r["results"].get("stream_flood", {"error": "not run"}))
    out += replicas_section(r["results"]["replicas"])
    out += cli_start_section(r["results"]["cli_start"])
    return "\n".join(out) + "\n"


def flood_section(fl: dict[str, Any]) -> list[str]:
    out = [
        "",
        "## Stream flood: another agency's reads and a route while one agency opens "
        "3,000 watches / idle",
        "",
    ]
    if "error" in fl:
        return [*out, f"failed: {fl['error']}"]
    refused = sum(fl["refused"].values())
    return [
        *out,
        f"{fl['streams']} WatchRecords streams from one agency's certificate: "
        f"{fl['admitted']} admitted, {refused} refused (answered in {fl['answered_in_s']} s); "
        f"hub RSS {fl['rss_idle_mib']} → {fl['rss_flood_mib']} MiB.",
        "",
        "| figure | idle | flooded | flooded / idle |",
        "|---|---|---|---|",
        f"| other agency's GetRecord p99 ms | {fl['idle_p99_ms']} | {fl['flood_p99_ms']} | "
        f"×{fl['p99_ratio']} |",
        f"| route: s to confirm 20 records | {fl['relay_idle_s']} | {fl['relay_flood_s']} | "
        f"×{fl['relay_ratio']} |",
    ]


def replicas_section(rp: dict[str, Any]) -> list[str]:
    out = [
        "",
        "## Replicas: PostgreSQL replicas / one hub on SQLite",
        "",
        "Same machine, same run: scale-out cannot show on a machine this small (replicas, "
        "database and chains share its cores); the figures say what the shared store costs.",
        "",
    ]
    if "error" in rp:
        return [*out, f"failed: {rp['error']}"]
    out += [
        "| set-up | queries / s | vs SQLite | relay records / s | vs SQLite |",
        "|---|---|---|---|---|",
    ]
    for row in rp["rows"]:
        out.append(
            f"| {row['setup']} | {row['queries_per_s']} | ×{row['queries_vs_sqlite']} | "
            f"{row['relay_per_s']} | ×{row['relay_vs_sqlite']} |"
        )
    c = rp["store_costs"]
    out += [
        "",
        f"Store cost per audit append: SQLite {c['sqlite']['audit_append_ms']} ms, PostgreSQL "
        f"{c['postgres']['audit_append_ms']} ms (×{rp['append_overhead']}); per delivery "
        f"(commit, claim, confirm): SQLite {c['sqlite']['delivery_ms']} ms, PostgreSQL "
        f"{c['postgres']['delivery_ms']} ms (×{rp['delivery_overhead']}).",
        "",
        rp["estimate"],
    ]
    return out


def cli_start_section(cs: dict[str, Any]) -> list[str]:
    out = [
        "",
        "## CLI start: wall time of a fresh `tonglian` process / `python -c 'import grpc'`",
        "",
    ]
    if "error" in cs:
        return [*out, f"failed: {cs['error']}"]
    out += [
        f"`import grpc`: {cs['import_grpc_median_s']} s (median of {cs['runs']}); "
        f"budget {cs['budget_s']} s per command.",
        "",
        "| command | median s | / import grpc | within budget |",
        "|---|---|---|---|",
    ]
    for row in cs["rows"]:
        out.append(
            f"| {row['command']} | {row['median_s']} | ×{row['vs_import_grpc']} | "
            f"{'yes' if row['within_budget'] else 'no'} |"
        )
    return out


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="fewer reads, records and settings")
    args = p.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    todo = scripts(args.quick)
    results: dict[str, dict[str, Any]] = {}
    with Meter("bench", total=len(todo), unit="scripts") as meter:
        for name, cmd in todo.items():
            meter.step(f"running {name}: {' '.join(cmd)}")
            results[name] = run_script(name, cmd)
            meter.advance()
    report = {
        "machine": describe(),
        "quick": args.quick,
        "seconds": round(time.monotonic() - started, 1),
        "results": results,
    }
    (RESULTS / "results.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    md = markdown(report)
    (RESULTS / "results.md").write_text(md)
    print(md)
    print(f"written: {RESULTS / 'results.md'} and results.json", file=sys.stderr)
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
