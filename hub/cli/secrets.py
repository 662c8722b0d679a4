"""`tonglian secrets put|list|rm`: each chain's own secrets on the hub (operators of the chain).

`put` reads the value where the CLI runs (a file, or one of the CLI's environment
variables) and sends it over mutual TLS; the hub writes it 0600 under its data dir,
`secrets/CHAIN/NAME`. Only names are ever shown back. Each replica keeps its own store:
with several replicas, put the secret through each (`--hub` per replica).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from hub.cli import exit_codes
from hub.cli.connection import client
from hub.cli.output import print_json
from hub.errors import InvalidInput


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("secrets", help="a chain's own secrets on the hub (names only shown)")
    ssub = p.add_subparsers(dest="secrets_command", metavar="ACTION", required=True)

    put = ssub.add_parser("put", help="put a secret into a chain's store on the hub")
    put.add_argument("chain_id")
    put.add_argument("name", help="the secret's name, e.g. private_key")
    src = put.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--file", type=Path, help="read the value from this file (here, not on the hub)"
    )
    src.add_argument("--env", metavar="VAR", help="read the value from this environment variable")
    put.add_argument("--json", action="store_true")
    put.set_defaults(func=run_put)

    ls = ssub.add_parser("list", help="the names of a chain's secrets (never the values)")
    ls.add_argument("chain_id")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)

    rm = ssub.add_parser("rm", help="remove a secret from a chain's store")
    rm.add_argument("chain_id")
    rm.add_argument("name")
    rm.add_argument("--json", action="store_true")
    rm.set_defaults(func=run_rm)


def _value(args: argparse.Namespace) -> bytes:
    if args.env:
        value = os.environ.get(args.env)
        if not value:
            raise InvalidInput(f"environment variable {args.env} is not set")
        return value.encode()
    from tonglian_client.secret_files import read_secret_file

    return read_secret_file(args.file)


async def run_put(args: argparse.Namespace) -> int:
    value = _value(args)
    async with client(args) as hub:
        await hub.put_secret(args.chain_id, args.name, value)
    if args.json:
        print_json({"chain_id": args.chain_id, "name": args.name})
    else:
        print(f"put secret {args.name} of chain {args.chain_id}")
    return exit_codes.OK


async def run_list(args: argparse.Namespace) -> int:
    async with client(args) as hub:
        names = await hub.list_secrets(args.chain_id)
    if args.json:
        print_json(names)
    elif names:
        print("\n".join(names))
    else:
        print(f"chain {args.chain_id} has no secrets; put one with `tonglian secrets put`")
    return exit_codes.OK


async def run_rm(args: argparse.Namespace) -> int:
    async with client(args) as hub:
        await hub.remove_secret(args.chain_id, args.name)
    if args.json:
        print_json({"removed": args.name, "chain_id": args.chain_id})
    else:
        print(f"removed secret {args.name} of chain {args.chain_id}")
    return exit_codes.OK
