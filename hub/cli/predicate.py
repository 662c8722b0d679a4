"""`tonglian predicate REF ...`: ask the hub a yes/no question about a record, check its signature.

The record stays at the hub; the answer is a statement signed by the hub's key,
checked here against the CA given by --ca / TONGLIAN_CA, with the time, principal and
purpose it shows: an answer whose shown time differs from the signed one, or that was
signed for another principal or purpose, is refused (exit 1).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hub.cli import exit_codes
from hub.cli.connection import client, credentials_from, trusted_ca
from hub.cli.output import print_json
from hub.errors import InvalidInput
from tonglian.v1 import query_pb2
from tonglian_client import predicates
from tonglian_client.verify import verify_answer

OPERATORS = {
    "equals": predicates.equals,
    "not-equals": predicates.not_equals,
    "less-than": predicates.less_than,
    "less-or-equal": predicates.less_or_equal,
    "greater-than": predicates.greater_than,
    "greater-or-equal": predicates.greater_or_equal,
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("predicate", help="a signed yes/no answer about a record (record not shown)")
    p.add_argument("ref", metavar="CHAIN/NAMESPACE/KEY")
    p.add_argument("--purpose", required=True, help="why you ask (audited)")
    p.add_argument("--field", help="dotted path into the record's value, e.g. status")
    group = p.add_mutually_exclusive_group(required=True)
    for name in OPERATORS:
        group.add_argument(f"--{name}", metavar="JSON", help=f"field {name} this JSON value")
    group.add_argument("--between", nargs=2, metavar=("LOW", "HIGH"))
    group.add_argument("--exists", action="store_true")
    group.add_argument(
        "--in-force-on",
        metavar="DATE",
        help="valid_from <= DATE <= valid_to (e.g. resident on DATE)",
    )
    p.add_argument("--out", type=Path, help="write the signed statement (JSON) here")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def _value(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return text  # a bare word or date is a string


def build(args: argparse.Namespace) -> query_pb2.Predicate:
    if args.in_force_on:
        return predicates.in_force_on(args.in_force_on)
    if not args.field:
        raise InvalidInput("--field is required (the value's field the question is about)")
    if args.exists:
        return predicates.exists(args.field)
    if args.between:
        return predicates.between(args.field, _value(args.between[0]), _value(args.between[1]))
    for name, make in OPERATORS.items():
        given = getattr(args, name.replace("-", "_"))
        if given is not None:
            return make(args.field, _value(given))
    raise InvalidInput("give one comparison, e.g. --equals active")


async def run(args: argparse.Namespace) -> int:
    predicate = build(args)
    async with client(args) as hub:
        answer = await hub.evaluate_predicate(args.ref, predicate, purpose=args.purpose)
    ca = trusted_ca(args)
    creds = credentials_from(args)
    verified = (
        verify_answer(
            answer,
            ca,
            principal=creds.principal_name() if creds else None,
            purpose=args.purpose,
        )
        if ca
        else None
    )
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "statement": answer.statement.decode(),
                    "signature": answer.signature.hex(),
                    "signer_certificate": answer.signer_certificate,
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    if args.json:
        print_json(
            {
                "answer": answer.answer,
                "audit_sequence": answer.audit_sequence,
                "signature_verified": verified is not None,
                "statement": json.loads(answer.statement),
            }
        )
    else:
        print(f"answer   {'yes' if answer.answer else 'no'}")
        print(f"audit    event {answer.audit_sequence} holds the proof digest")
        if verified:
            body = verified.body
            print(f"for      {body['principal']}, purpose {body['purpose']!r}")
            print(f"at       {body['evaluated_at']}")
            for check in [*verified.checks, "time, principal and purpose are those signed"]:
                print(f"  ✓ {check}")
        else:
            print("  (signature not checked: give --ca or TONGLIAN_CA)")
    return exit_codes.OK
