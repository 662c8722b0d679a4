"""`tonglian devnet up|down|status [KIND...]`: real chains as local processes.

The arguments are declared in tonglian_tools.cli; these run the verbs."""

from __future__ import annotations

import argparse
from pathlib import Path

from google.protobuf.json_format import MessageToJson, ParseDict

from devnets import registry
from devnets.base import Devnet, DevnetInfo, DevnetStatus
from devnets.process import DevnetError
from hub.cli import exit_codes
from hub.cli.output import error, print_json, table
from hub.cli.progress import Meter
from tonglian.v1 import chains_pb2
from tonglian_client.trust import default_anchors_dir


def _kinds(args: argparse.Namespace) -> list[str]:
    return list(args.kinds or args.default_kinds)


def _create(kind: str, args: argparse.Namespace, **options: str) -> Devnet:
    return registry.create(kind, getattr(args, "state_dir", None), **options)


def write_anchor(info: DevnetInfo, folder: Path) -> Path | None:
    """Writes the devnet chain's trust anchor to FOLDER/CHAIN_ID.json, where `tonglian verify`
    finds it with no flags; None for a devnet that is no chain (postgres).

    The devnet was started here, so its anchor is one the reader has reason to trust; the
    file is replaced when the devnet is created anew (new validator keys, new contracts)."""
    if not info.chain:
        return None
    chain = ParseDict(info.chain, chains_pb2.Chain())
    if not chain.chain_id or not chain.HasField("trust_anchor"):
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{chain.chain_id}.json"
    path.write_text(MessageToJson(chain.trust_anchor) + "\n")
    return path


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
                info = await _create(kind, args, **options).up(step)
            except DevnetError as exc:
                meter.close()
                error(f"{kind} devnet did not come up: {exc}")
                return exit_codes.FAILED
            meter.step(f"{kind}: ready")
            infos.append(info)
    folder = args.anchors or default_anchors_dir()
    anchors = {info.kind: write_anchor(info, folder) for info in infos}
    if args.json:
        print_json([{**i.model_dump(), "anchor_file": str(anchors[i.kind] or "")} for i in infos])
        return exit_codes.OK
    for info in infos:
        endpoints = ", ".join(f"{k} {v}" for k, v in info.endpoints.items())
        # `chains add --from-devnet` finds a devnet through TONGLIAN_STATE_DIR.
        state = f"TONGLIAN_STATE_DIR={args.state_dir} " if args.state_dir else ""
        then = (
            f"register it with `{state}tonglian chains add --from-devnet {info.kind}`"
            if info.chain
            else str(info.extra.get("hint", ""))
        )
        print(f"{info.kind}: up ({endpoints}); {then}")
        if anchors[info.kind] is not None:
            print(f"  trust anchor written to {anchors[info.kind]} (`tonglian verify` uses it)")
        if "inbox_address" in info.extra:
            chain_id = info.chain.get("chainId", info.kind)
            inbox = info.extra["inbox_address"]
            print(f"  inbox {inbox}: a route delivers to it as destination {chain_id}/{inbox}")
    return exit_codes.OK


async def run_down(args: argparse.Namespace) -> int:
    stopped = []
    for kind in _kinds(args):
        try:
            if await _create(kind, args).down():
                stopped.append(kind)
        except DevnetError as exc:
            error(f"{kind}: {exc}")
            return exit_codes.FAILED
    if args.json:
        print_json({"stopped": stopped})
    else:
        print(f"stopped: {', '.join(stopped)}" if stopped else "no devnet was running")
    return exit_codes.OK


async def _status(kind: str, args: argparse.Namespace) -> DevnetStatus:
    try:
        return await _create(kind, args).status()
    except (ImportError, DevnetError, OSError) as exc:
        return DevnetStatus(kind=kind, running=False, detail=f"unavailable: {exc}")


async def run_status(args: argparse.Namespace) -> int:
    statuses = [await _status(kind, args) for kind in _kinds(args)]
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
