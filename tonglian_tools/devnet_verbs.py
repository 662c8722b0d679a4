"""`tonglian devnet up|down|status [KIND...]`: real chains as local processes.

The arguments are declared in tonglian_tools.cli; these run the verbs."""

from __future__ import annotations

import argparse

from devnets import registry
from devnets.base import DevnetStatus
from devnets.process import DevnetError
from hub.cli import exit_codes
from hub.cli.output import error, print_json, table
from hub.cli.progress import Meter


def _kinds(args: argparse.Namespace) -> list[str]:
    return list(args.kinds or args.default_kinds)


async def run_up(args: argparse.Namespace) -> int:
    infos = []
    crypto = getattr(args, "crypto", None)
    if crypto and any(kind != "custom" for kind in _kinds(args)):
        error(
            "--crypto applies to the custom ledger only: `tonglian devnet up custom --crypto sm2`"
        )
        return exit_codes.USAGE
    options = {"crypto": crypto} if crypto else {}
    with Meter("devnet up", quiet=args.json) as meter:
        for kind in _kinds(args):
            meter.step(f"{kind}: starting")

            def step(text: str, kind: str = kind) -> None:
                meter.step(f"{kind}: {text}")

            try:
                info = await registry.create(kind, **options).up(step)
            except DevnetError as exc:
                meter.close()
                error(f"{kind} devnet did not come up: {exc}")
                return exit_codes.FAILED
            meter.step(f"{kind}: ready")
            infos.append(info)
    if args.json:
        print_json([i.model_dump() for i in infos])
    else:
        for info in infos:
            endpoints = ", ".join(f"{k} {v}" for k, v in info.endpoints.items())
            then = (
                f"register it with `tonglian chains add --from-devnet {info.kind}`"
                if info.chain
                else str(info.extra.get("hint", ""))
            )
            print(f"{info.kind}: up ({endpoints}); {then}")
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
        print_json([s.model_dump() for s in statuses])
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
