"""`tonglian verify FILE`: re-verify a proof bundle offline, without the hub or the chain.

(`tonglian verify fabric-block ...` is dispatched to hub/cli/verify_fabric_block.py.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from google.protobuf.message import DecodeError

from hub.cli import exit_codes
from hub.cli.chains import _parse_json_file
from hub.cli.output import error, print_json, to_json
from tonglian.v1 import chains_pb2
from tonglian_proof.bundle import decode_bundle, verify_bundle
from tonglian_proof.errors import MalformedInput, ProofRejected


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "verify",
        help="re-verify a proof bundle offline (or: verify fabric-block ...)",
        description="Re-verifies a proof bundle offline. "
        "`tonglian verify fabric-block --help` verifies raw Fabric blocks.",
    )
    p.add_argument("file", type=Path, help="a proof bundle written by `tonglian query --out`")
    p.add_argument(
        "--anchor",
        type=Path,
        help="trusted anchors (a tonglian.v1.TrustAnchor in JSON, or binary): "
        "the bundle must have been made against exactly these",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def _load_anchor(path: Path) -> chains_pb2.TrustAnchor:
    if path.suffix == ".json":
        anchor: chains_pb2.TrustAnchor = _parse_json_file(
            path, chains_pb2.TrustAnchor(), "trust anchor"
        )
        return anchor
    try:
        return chains_pb2.TrustAnchor.FromString(path.read_bytes())
    except OSError as exc:
        raise MalformedInput(f"cannot read trust anchor file {path}: {exc.strerror}") from exc
    except DecodeError as exc:
        raise MalformedInput(f"trust anchor file {path} does not parse: {exc}") from exc


def run(args: argparse.Namespace) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        error(f"cannot read bundle {args.file}: {exc.strerror}")
        return exit_codes.USAGE
    anchor = _load_anchor(args.anchor) if args.anchor else None
    try:
        bundle = decode_bundle(data)
        verdict = verify_bundle(bundle, anchor)
    except (MalformedInput, ProofRejected) as exc:
        reason = exc.reason if isinstance(exc, ProofRejected) else str(exc)
        if args.json:
            print_json({"file": str(args.file), "verified": False, "reason": reason})
        else:
            error(f"{args.file}: NOT verified: {reason}")
        return exit_codes.FAILED
    ref = verdict.record.ref
    if args.json:
        print_json(
            {
                "file": str(args.file),
                "verified": True,
                "proof_kind": verdict.proof_kind,
                "anchor": "given" if verdict.anchor_given else "embedded",
                "record": to_json(verdict.record),
                "checks": verdict.checks,
            }
        )
        return exit_codes.OK
    print(
        f"{args.file}: verified {ref.chain_id}/{ref.namespace}/{ref.key} "
        f"version {verdict.record.version} ({verdict.proof_kind} proof)"
    )
    for check in verdict.checks:
        print(f"  ✓ {check}")
    if not verdict.anchor_given:
        print(
            "note: checked against the trust anchors inside the bundle; pass --anchor FILE "
            "to check against anchors you trust"
        )
    return exit_codes.OK
