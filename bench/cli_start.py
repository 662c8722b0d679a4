"""How fast `tonglian` answers, against `python -c "import grpc"` measured in the same run.

Three commands a user types, each a fresh process, wall time, median of 7 (runs
interleaved so that load from elsewhere hits all alike): `tonglian --help`,
`tonglian verify --help`, and a client verb that fails fast because no hub answers
(`chains list` against a closed port, exit code 3). The budget is 0.3 s each.

The commands run as an installed `tonglian` does, from compiled bytecode
(bench/installed.py), the cache filled by one unmeasured round.

    .venv/bin/python bench/cli_start.py [--runs 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.installed import bytecode_env  # noqa: E402
from bench.machine import describe  # noqa: E402
from bench.stats import ratio  # noqa: E402

BUDGET_S = 0.3


def closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def commands() -> dict[str, tuple[list[str], int]]:
    """name -> (argv, the exit code it must end with)."""
    cli = [sys.executable, "-m", "hub.cli.main"]
    return {
        "import grpc": ([sys.executable, "-c", "import grpc"], 0),
        "tonglian --help": ([*cli, "--help"], 0),
        "tonglian verify --help": ([*cli, "verify", "--help"], 0),
        "tonglian chains list (no hub)": (
            [*cli, "--hub", f"127.0.0.1:{closed_port()}", "--insecure", "chains", "list"],
            3,
        ),
    }


def measure(runs: int) -> dict[str, float]:
    """Median wall seconds per command; raises if one ends with the wrong exit code."""
    cmds = commands()
    samples: dict[str, list[float]] = {name: [] for name in cmds}
    with tempfile.TemporaryDirectory(prefix="tonglian-pycache-") as cache:
        env = bytecode_env(cache)
        for round_no in range(runs + 1):
            for name, (argv, expected) in cmds.items():
                start = time.perf_counter()
                proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
                if round_no:  # round 0 fills the bytecode cache
                    samples[name].append(time.perf_counter() - start)
                if proc.returncode != expected:
                    raise RuntimeError(
                        f"{name}: exit {proc.returncode}, wanted {expected}: {proc.stderr}"
                    )
    return {name: statistics.median(s) for name, s in samples.items()}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    medians = measure(args.runs)
    baseline = medians["import grpc"]
    rows = [
        {
            "command": name,
            "median_s": round(seconds, 3),
            "vs_import_grpc": ratio(seconds, baseline, 2),
            "within_budget": seconds <= BUDGET_S,
        }
        for name, seconds in medians.items()
        if name != "import grpc"
    ]
    result: dict[str, Any] = {
        "machine": describe(),
        "runs": args.runs,
        "budget_s": BUDGET_S,
        "import_grpc_median_s": round(baseline, 3),
        "rows": rows,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"python -c 'import grpc': {baseline:.3f} s (median of {args.runs})")
    for row in rows:
        mark = "ok" if row["within_budget"] else f"over the {BUDGET_S} s budget"
        print(
            f"{row['command']:<32} {row['median_s']:.3f} s  ×{row['vs_import_grpc']} "
            f"of import grpc  ({mark})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
