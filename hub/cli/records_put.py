"""`tonglian records put`: write a record onto a chain through the hub (docs/writing.md)."""

from __future__ import annotations

import argparse
import json
import uuid
from pathlib import Path

from hub.cli import exit_codes
from hub.cli.connection import client
from hub.cli.output import print_json, to_json
from hub.errors import InvalidInput
from tonglian.v1 import query_pb2
from tonglian_client.client import parse_ref
from tonglian_proof.bundle import encode_bundle


def register(rsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = rsub.add_parser(
        "put",
        help="write a record through the hub (needs a policy rule with access: write)",
        description="Writes the JSON value in --file at CHAIN/NAMESPACE/KEY, checked against "
        "--schema, once per --request-id (a retry with the same id is not applied again).",
    )
    p.add_argument("ref", metavar="CHAIN/NAMESPACE/KEY", help="where (the key may contain '/')")
    p.add_argument("--file", type=Path, required=True, help="the record's value, a JSON file")
    p.add_argument("--schema", required=True, help="catalog schema of the value")
    p.add_argument("--purpose", required=True, help="why the record is written (audited)")
    p.add_argument(
        "--request-id",
        default="",
        help="idempotency id, 1-128 of [A-Za-z0-9._:-] (default: a new random one, printed; "
        "give it again to retry)",
    )
    p.add_argument("--wait", action="store_true", help="return once the record is final")
    p.add_argument("--out", type=Path, help="with --wait: write the proof bundle to this file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_put)


def _value(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise InvalidInput(f"cannot read value file {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise InvalidInput(f"value file {path} is not JSON: {exc}") from exc


async def run_put(args: argparse.Namespace) -> int:
    ref = parse_ref(args.ref)  # a malformed reference is refused before any connection
    if args.out and not args.wait:
        raise InvalidInput("--out needs --wait: the proof bundle exists once the record is final")
    value = _value(args.file)
    request_id = args.request_id or uuid.uuid4().hex
    async with client(args) as hub:
        answer = await hub.put_record(
            ref,
            value,
            schema=args.schema,
            purpose=args.purpose,
            request_id=request_id,
            wait=args.wait,
        )
    if args.out:
        args.out.write_bytes(encode_bundle(answer.record.bundle))
    r = answer.receipt
    if args.json:
        out: dict[str, object] = {"receipt": to_json(r)}
        if answer.HasField("record"):
            out["record"] = to_json(answer.record.record)
            out["verification"] = to_json(answer.record.verification)
        if args.out:
            out["bundle_file"] = str(args.out)
        print_json(out)
        return exit_codes.OK
    state = query_pb2.WriteState.Name(r.state).removeprefix("WRITE_STATE_").lower()
    again = "   (already applied: not written again)" if r.repeated else ""
    block = f"   block {r.block_height}" if r.block_height else ""
    print(f"record     {r.ref.chain_id}/{r.ref.namespace}/{r.ref.key}")
    print(f"schema     {r.schema}")
    print(f"request    {r.request_id}{again}")
    print(f"state      {state}   tx {r.tx_id}{block}")
    if answer.HasField("record"):
        v = answer.record.verification
        ok = "yes" if v.verified else "NO"
        print(f"verified   {ok} ({v.proof_kind} proof), version {answer.record.record.version}")
    if args.out:
        print(f"bundle     written to {args.out}")
    return exit_codes.OK
