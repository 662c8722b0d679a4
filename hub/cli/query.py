"""`tonglian query` and `tonglian records list|watch`: read verified records through the hub
(`records put`, the one that writes, is hub/cli/records_put.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hub.cli import exit_codes, records_put
from hub.cli.connection import client
from hub.cli.output import print_json, table, to_json
from tonglian.v1 import query_pb2, records_pb2
from tonglian_client.client import parse_ref
from tonglian_proof.bundle import encode_bundle


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    q = sub.add_parser("query", help="read one verified record and its proof bundle")
    q.add_argument(
        "ref", metavar="CHAIN/NAMESPACE/KEY", help="the record (the key may contain '/')"
    )
    q.add_argument("--purpose", required=True, help="why the record is read (audited)")
    q.add_argument("--at-height", type=int, default=0, help="version at or below this block")
    q.add_argument("--out", type=Path, help="write the proof bundle to this file")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=run_query)

    r = sub.add_parser("records", help="list or watch verified records of a chain")
    rsub = r.add_subparsers(dest="records_command", metavar="ACTION", required=True)
    for name, fn, helptext in (
        ("list", run_list, "records in a range of final blocks"),
        ("watch", run_watch, "records as they become final"),
    ):
        p = rsub.add_parser(name, help=helptext)
        p.add_argument("chain_id")
        p.add_argument("--namespace", default="")
        p.add_argument("--key-prefix", default="")
        p.add_argument("--schema", default="")
        p.add_argument("--from-height", type=int, default=0)
        p.add_argument("--to-height", type=int, default=0)
        p.add_argument("--purpose", required=True, help="why the records are read (audited)")
        p.add_argument("--json", action="store_true", help="one JSON object per record and line")
        if name == "list":
            p.add_argument("--limit", type=int, default=100, help="stop after this many records")
        else:
            p.add_argument(
                "--limit",
                type=int,
                default=0,
                help="stop after this many records (default: follow until Ctrl-C)",
            )
        p.set_defaults(func=fn)
    records_put.register(rsub)


def describe_value(record: records_pb2.Record) -> str:
    try:
        return json.dumps(json.loads(record.value), indent=2, ensure_ascii=False)
    except ValueError:
        return record.value.hex()


def print_record(vr: records_pb2.VerifiedRecord) -> None:
    rec = vr.record
    ref = rec.ref
    print(f"record   {ref.chain_id}/{ref.namespace}/{ref.key}")
    print(f"schema   {rec.schema or '(none)'}")
    print(f"version  {rec.version}   block {rec.block_height}   tx {rec.tx_id}")
    if rec.HasField("commit_time"):
        print(f"time     {rec.commit_time.ToJsonString()}")
    if rec.deleted:
        print("deleted  yes")
    else:
        print("value")
        for line in describe_value(rec).splitlines():
            print(f"  {line}")
    v = vr.verification
    print(f"verified {'yes' if v.verified else 'NO'} ({v.proof_kind} proof)")
    for check in v.checks:
        print(f"  ✓ {check}")


async def run_query(args: argparse.Namespace) -> int:
    ref = parse_ref(args.ref)  # a malformed reference is refused before any connection
    async with client(args) as hub:
        vr = await hub.get_record(ref, purpose=args.purpose, at_height=args.at_height)
    if args.out:
        args.out.write_bytes(encode_bundle(vr.bundle))
    if args.json:
        out: dict[str, object] = {
            "record": to_json(vr.record),
            "verification": to_json(vr.verification),
        }
        try:
            out["value"] = json.loads(vr.record.value)
        except ValueError:
            pass
        if args.out:
            out["bundle_file"] = str(args.out)
        print_json(out)
    else:
        print_record(vr)
        if args.out:
            print(
                f"bundle   written to {args.out} ({verify_hint(args.out, vr.record.ref.chain_id)})"
            )
    return exit_codes.OK


def verify_hint(bundle: Path, chain_id: str) -> str:
    """How to check the bundle offline: the bare command only where it will verify (the
    anchors folder holds the chain's anchor), else what it still needs."""
    from tonglian_client.trust import anchor_in_dir, default_anchors_dir
    from tonglian_proof.errors import MalformedInput

    folder = default_anchors_dir()
    try:
        kept = anchor_in_dir(folder, chain_id) is not None
    except MalformedInput:  # an anchor file that does not parse: verify says so
        kept = True
    if kept:
        return f"check it offline: tonglian verify {bundle}"
    return (
        f"check it offline: tonglian verify {bundle} --anchor FILE, with {chain_id}'s trust "
        f"anchor from its operator (or put it in {folder}/{chain_id}.json)"
    )


def _filter(args: argparse.Namespace) -> query_pb2.RecordFilter:
    return query_pb2.RecordFilter(
        chain_id=args.chain_id,
        namespace=args.namespace,
        key_prefix=args.key_prefix,
        schema=args.schema,
        from_height=args.from_height,
        to_height=args.to_height,
    )


def _row(vr: records_pb2.VerifiedRecord) -> list[str]:
    r = vr.record
    return [
        str(r.block_height),
        r.ref.namespace,
        r.ref.key,
        str(r.version),
        r.schema,
        "yes" if vr.verification.verified else "NO",
    ]


async def run_list(args: argparse.Namespace) -> int:
    async with client(args) as hub:
        found = [
            vr
            async for vr in hub.list_records(
                _filter(args),
                purpose=args.purpose,
                limit=args.limit,
                page_size=min(500, args.limit),
            )
        ]
    if args.json:
        for vr in found:
            print(
                json.dumps(
                    {"record": to_json(vr.record), "verified": vr.verification.verified},
                    ensure_ascii=False,
                )
            )
    elif found:
        print(
            table(
                ["block", "namespace", "key", "version", "schema", "verified"],
                [_row(v) for v in found],
            )
        )
    else:
        print("no records match")
    return exit_codes.OK


async def run_watch(args: argparse.Namespace) -> int:
    seen = 0
    async with client(args) as hub:
        async for vr in hub.watch_records(_filter(args), purpose=args.purpose):
            seen += 1
            if args.json:
                print(
                    json.dumps(
                        {"record": to_json(vr.record), "verified": vr.verification.verified},
                        ensure_ascii=False,
                    ),
                    flush=True,
                )
            else:
                print("  ".join(_row(vr)), flush=True)
            if seen == args.limit:
                break
    return exit_codes.OK
