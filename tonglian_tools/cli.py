"""The tooling's verbs, joined to `tonglian` through the `tonglian.cli` entry-point group.

Each function declares one verb's arguments and nothing more; the CLI calls it only
when that verb is on the command line (its docstring's first line is the verb's help
in `tonglian --help`), and the verb imports its implementation only when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.cli.extensions import Subparsers, lazy


def register_devnet(sub: Subparsers) -> None:
    """start, stop and inspect local devnets (real chains as local processes)"""
    from devnets.registry import KINDS

    p = sub.add_parser("devnet", help=_help(register_devnet))
    dsub = p.add_subparsers(dest="devnet_command", metavar="ACTION", required=True)
    for name, default, helptext in (
        ("up", ["custom"], "start devnets (default: custom)"),
        ("down", list(KINDS), "stop devnets (default: all)"),
        ("status", list(KINDS), "show devnets (default: all)"),
    ):
        sp = dsub.add_parser(name, help=helptext)
        sp.add_argument("kinds", nargs="*", metavar="KIND", help=f"one of: {', '.join(KINDS)}")
        sp.add_argument("--json", action="store_true", help="print JSON, no progress")
        sp.add_argument(
            "--state-dir",
            type=Path,
            metavar="DIR",
            help="the devnets' state folder, one subfolder per kind "
            "(default: $TONGLIAN_STATE_DIR, else ./.tonglian/devnets; `chains add "
            "--from-devnet` looks in $TONGLIAN_STATE_DIR)",
        )
        sp.set_defaults(
            func=lazy("tonglian_tools.devnet_verbs", f"run_{name}"), default_kinds=default
        )
        if name == "up":
            sp.add_argument(
                "--crypto",
                choices=["ed25519", "sm2"],
                help="custom ledger mode for a new ledger: ed25519 (SHA-256) or sm2 "
                "(SM2 validators, SM3 hashing); default: keep the existing one, else ed25519",
            )
            sp.add_argument(
                "--anchors",
                type=Path,
                metavar="DIR",
                help="write each chain's trust anchor here as CHAIN_ID.json, where "
                "`tonglian verify` looks (default: $TONGLIAN_ANCHORS, else "
                "$XDG_CONFIG_HOME/tonglian/anchors, ~/.config by default)",
            )


def register_demo(sub: Subparsers) -> None:
    """one-visit business registration across three chains, narrated with timings"""
    p = sub.add_parser("demo", help=_help(register_demo))
    p.add_argument("--out-dir", type=Path, default=Path("demo-out"), help="where bundles go")
    p.add_argument(
        "--keep",
        action="store_true",
        help="leave the chains, the hub and its status page running",
    )
    p.add_argument(
        "--no-fabric", action="store_true", help="do not use Fabric even if its binaries exist"
    )
    p.add_argument(
        "--json", action="store_true", help="print a JSON summary instead of the narration"
    )
    p.set_defaults(func=lazy("tonglian_tools.demo.run", "run"))


def register_adapter_new(actions: Subparsers) -> None:
    """create a new adapter package wired to the conformance kit"""
    new = actions.add_parser("new", help=_help(register_adapter_new))
    new.add_argument("name", metavar="NAME", help="adapter name, e.g. acme-ledger")
    new.add_argument("--dir", type=Path, default=Path("."), help="parent folder (default: .)")
    new.add_argument("--json", action="store_true", help="print the created files as JSON")
    new.set_defaults(func=lazy("tonglian_tools.scaffold.verb", "run_new"))


def _help(fn: Any) -> str:
    return str(fn.__doc__).strip().splitlines()[0]
