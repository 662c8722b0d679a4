"""`tonglian devnet up|down|status [KIND...]`: real chains as local processes."""

from __future__ import annotations

import argparse

from devnets import registry
from devnets.base import DevnetStatus
from devnets.process import DevnetError
from hub.cli import exit_codes
from hub.cli.output import Progress, error, print_json, table


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("devnet", help="start, stop and inspect local devnets")
    dsub = p.add_subparsers(dest="devnet_command", metavar="ACTION", required=True)
    for name, fn, default, helptext in (
        ("up", run_up, ["custom"], "start devnets (default: custom)"),
        ("down", run_down, list(registry.KINDS), "stop devnets (default: all)"),
        ("status", run_status, list(registry.KINDS), "show devnets (default: all)"),
    ):
        sp = dsub.add_parser(name, help=helptext)
        sp.add_argument(
            "kinds", nargs="*", metavar="KIND", help=f"one of: {', '.join(registry.KINDS)}"
        )
        sp.add_argument("--json", action="store_true")
        sp.set_defaults(func=fn, default_kinds=default)
        if name == "up":
            sp.add_argument(
                "--crypto",
                choices=["ed25519", "sm2"],
                help="custom ledger mode for a new ledger: ed25519 (SHA-256) or sm2 "
                "(SM2 validators, SM3 hashing); default: keep the existing one, else ed25519",
            )


def _kinds(args: argparse.Namespace) -> list[str]:
    return list(args.kinds or args.default_kinds)


async def run_up(args: argparse.Namespace) -> int:
    infos = []
    if args.crypto and any(kind != "custom" for kind in _kinds(args)):
        error(
            "--crypto applies to the custom ledger only: `tonglian devnet up custom --crypto sm2`"
        )
        return exit_codes.USAGE
    for kind in _kinds(args):
        progress = Progress(quiet=args.json)
        progress(f"{kind}: starting")

        def step(text: str, kind: str = kind, progress: Progress = progress) -> None:
            progress(f"{kind}: {text}")

        try:
            options = {"crypto": args.crypto} if args.crypto else {}
            info = await registry.create(kind, **options).up(step)
        except DevnetError as exc:
            error(f"{kind} devnet did not come up: {exc}")
            return exit_codes.FAILED
        progress(f"{kind}: ready in {progress.elapsed():.1f}s")
        infos.append(info)
    if args.json:
        print_json([i.model_dump() for i in infos])
    else:
        for info in infos:
            endpoints = ", ".join(f"{k} {v}" for k, v in info.endpoints.items())
            print(
                f"{info.kind}: up ({endpoints}); register it with "
                f"`tonglian chains add --from-devnet {info.kind}`"
            )
    return exit_codes.OK


async def run_down(args: argparse.Namespace) -> int:
    stopped = []
    for kind in _kinds(args):
        try:
            if await registry.create(kind).down():
                stopped.append(kind)
        except DevnetError as exc:
            error(f"{kind}: {exc}")
            return exit_codes.FAILED
    if args.json:
        print_json({"stopped": stopped})
    else:
        print(f"stopped: {', '.join(stopped)}" if stopped else "no devnet was running")
    return exit_codes.OK


async def _status(kind: str) -> DevnetStatus:
    try:
        return await registry.create(kind).status()
    except (ImportError, DevnetError, OSError) as exc:
        return DevnetStatus(kind=kind, running=False, detail=f"unavailable: {exc}")


async def run_status(args: argparse.Namespace) -> int:
    statuses = [await _status(kind) for kind in _kinds(args)]
    if args.json:
        print_json([s.model_dump(exclude_none=True) for s in statuses])
    else:
        rows = [
            [
                s.kind,
                "running" if s.running else "stopped",
                ", ".join(f"{n}={h}" for n, h in s.heights.items()),
                s.detail,
            ]
            for s in statuses
        ]
        print(table(["devnet", "state", "heights", "detail"], rows))
    return exit_codes.OK
