"""`tonglian verify FILE`: re-verify a proof bundle offline, without the hub or the chain.

It says "verified" and exits 0 only when something the reader chose anchors the
bundle: `--anchor FILE`, the chain's file in the anchors folder, or the serving
hub's signature under `--hub-key FILE`. A bundle that merely agrees with the
anchors it carries is reported as consistent but NOT anchored, exit 1, and each of
its facts is marked "·" and "(not anchored)", never ✓; the hub is named as the
signer only when `--hub-key` checked it (tonglian_proof/verdict_report.py).

(`tonglian verify fabric-block ...` is dispatched to hub/cli/verify_fabric_block.py.)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from hub.cli import exit_codes

if TYPE_CHECKING:
    from tonglian_proof.bundle import ReaderTrust

# The proof core and its crypto load only when a bundle is verified, so that
# `tonglian verify --help` answers at once.


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "verify",
        help="re-verify a proof bundle offline (or: verify fabric-block ...)",
        description="Re-verifies a proof bundle offline. It is verified only against trust "
        "you supply: --anchor, your anchors folder, or --hub-key. "
        "`tonglian verify fabric-block --help` verifies raw Fabric blocks.",
    )
    p.add_argument("file", type=Path, help="a proof bundle written by `tonglian query --out`")
    p.add_argument(
        "--anchor",
        type=Path,
        help="the chain's trust anchors you trust (a tonglian.v1.TrustAnchor, JSON or "
        "binary): the bundle must have been made against exactly these",
    )
    p.add_argument(
        "--anchors",
        type=Path,
        default=None,
        help="a folder of trusted anchors, one CHAIN_ID.json or CHAIN_ID.pb per chain "
        "(default: $TONGLIAN_ANCHORS, else ~/.config/tonglian/anchors)",
    )
    p.add_argument(
        "--hub-key",
        type=Path,
        help="PEM of the hub's statement certificate, its public key or the CA that issues "
        "it: accepts the hub's signature on the bundle as the anchor ('the hub said so')",
    )
    p.add_argument(
        "--rpc",
        metavar="URL",
        help="an Ethereum JSON-RPC node you trust: re-checks an EVM bundle's block hash "
        "and finality there",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def _trust(args: argparse.Namespace, chain_id: str) -> tuple[ReaderTrust, str]:
    """What the reader trusts, and where the anchor came from (for people)."""
    from tonglian_client.trust import anchor_in_dir, default_anchors_dir, hub_keys_from, load_anchor
    from tonglian_proof.bundle import ReaderTrust

    anchor, source = None, ""
    if args.anchor is not None:
        anchor, source = load_anchor(args.anchor), str(args.anchor)
    else:
        folder = args.anchors or default_anchors_dir()
        anchor = anchor_in_dir(folder, chain_id)
        source = f"{folder}/{chain_id}" if anchor is not None else ""
    hub_keys = hub_keys_from(args.hub_key) if args.hub_key is not None else ()
    return ReaderTrust(anchor, hub_keys), source


def run(args: argparse.Namespace) -> int:
    from hub.cli.output import error, print_json, to_json
    from tonglian_client.trust import evm_header_from_node
    from tonglian_proof.bundle import ReaderTrust, decode_bundle, verify_bundle
    from tonglian_proof.errors import MalformedInput, ProofRejected

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        error(f"cannot read bundle {args.file}: {exc.strerror}")
        return exit_codes.USAGE
    try:
        bundle = decode_bundle(data)
    except MalformedInput as exc:
        # Not a bundle at all is unusable input (2); a bundle whose bytes were altered
        # failed a check (1).
        return _refused(
            args, str(exc), exit_codes.USAGE if _not_a_bundle(data) else exit_codes.FAILED
        )
    try:
        trust, anchor_source = _trust(args, bundle.record.ref.chain_id)
    except MalformedInput as exc:
        return _refused(args, str(exc), exit_codes.USAGE)
    try:
        if args.rpc and bundle.proof.WhichOneof("kind") == "evm":
            evm = (trust.anchor or bundle.trust_anchor).evm
            header = evm_header_from_node(args.rpc, bundle.proof.evm, evm)
            trust = ReaderTrust(trust.anchor, trust.hub_keys, header)
        verdict = verify_bundle(bundle, trust)
    except (MalformedInput, ProofRejected) as exc:
        return _refused(args, str(exc), exit_codes.FAILED)
    ref = verdict.record.ref
    name = f"{ref.chain_id}/{ref.namespace}/{ref.key} version {verdict.record.version}"
    if args.json:
        print_json(
            {
                "file": str(args.file),
                "verified": verdict.anchored,
                "anchored": verdict.anchored,
                "consistent": True,
                "anchored_in": verdict.anchored_in,
                "anchor_file": anchor_source,
                # Named as the signer only when a hub key the reader gave checked it.
                "hub_signer": verdict.hub_signer if verdict.hub_key_checked else "",
                "hub_signed_at": verdict.hub_signed_at.isoformat()
                if verdict.hub_signed_at and verdict.hub_key_checked
                else None,
                "unchecked_signer_certificate": ""
                if verdict.hub_key_checked
                else verdict.hub_signer,
                "proof_kind": verdict.proof_kind,
                "record": to_json(verdict.record),
                "checks": [line.text for line in verdict.report if line.checked],
                "unchecked": [line.text for line in verdict.report if not line.checked],
            }
        )
        return exit_codes.OK if verdict.anchored else exit_codes.FAILED
    if verdict.anchored:
        print(f"{args.file}: verified {name} ({verdict.proof_kind} proof)")
    else:
        print(f"{args.file}: consistent but NOT anchored: {name} ({verdict.proof_kind} proof)")
    for line in verdict.report:
        print(f"  {line}")
    print(("anchored in: " if verdict.anchored else "not anchored: ") + verdict.anchored_in)
    return exit_codes.OK if verdict.anchored else exit_codes.FAILED


def _not_a_bundle(data: bytes) -> bool:
    """Whether `data` is no proof bundle at all: no protobuf, or not of the bundle format."""
    from google.protobuf.message import DecodeError

    from tonglian.v1 import records_pb2
    from tonglian_proof.bundle import BUNDLE_FORMAT

    try:
        return records_pb2.ProofBundle.FromString(data).format != BUNDLE_FORMAT
    except DecodeError:
        return True


def _refused(args: argparse.Namespace, reason: str, code: int) -> int:
    from hub.cli.output import error, print_json

    if args.json:
        print_json({"file": str(args.file), "verified": False, "anchored": False, "reason": reason})
    else:
        error(f"{args.file}: NOT verified: {reason}")
    return code
