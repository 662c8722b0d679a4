"""`tonglian chains add|list|show|remove|status`: register the chains the hub links."""

from __future__ import annotations

import argparse
import base64
from pathlib import Path

from hub.cli import exit_codes
from hub.cli.connection import client
from hub.cli.json_input import parse_json_file
from hub.cli.local_chains import devnet_chain
from hub.cli.output import print_json, table, to_json
from hub.errors import InvalidInput
from tonglian.v1 import chains_pb2
from tonglian_client.errors import ClientError

KIND_NAMES = {
    "custom": chains_pb2.CHAIN_KIND_SIGNED_MERKLE,
    "signed-merkle": chains_pb2.CHAIN_KIND_SIGNED_MERKLE,
    "evm": chains_pb2.CHAIN_KIND_EVM,
    "fabric": chains_pb2.CHAIN_KIND_FABRIC,
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("chains", help="register and inspect linked chains")
    csub = p.add_subparsers(dest="chains_command", metavar="ACTION", required=True)

    add = csub.add_parser("add", help="register a chain with its adapter and trust anchors")
    add.add_argument(
        "kind",
        nargs="?",
        choices=sorted(KIND_NAMES),
        help="chain kind (not with --file/--from-devnet)",
    )
    src = add.add_mutually_exclusive_group()
    src.add_argument("--file", type=Path, help="a tonglian.v1.Chain in JSON")
    src.add_argument("--from-devnet", metavar="KIND", help="register a running devnet of KIND")
    add.add_argument("--chain-id", help="hub-wide id for the chain")
    add.add_argument("--name", default="", help="display name")
    add.add_argument("--adapter", help="adapter plugin name (default: the kind's own)")
    add.add_argument("--adapter-address", help="host:port of a remote adapter")
    add.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="adapter option, public: every operator sees it (repeatable)",
    )
    add.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="NAME=store:ENTRY|NAME=file:PATH|NAME=env:VAR",
        help="adapter secret: an entry of the chain's own store on the hub (`tonglian secrets "
        "put`), a file HERE that is put into that store first, or an environment variable "
        "of the hub listed in its secret_env (repeatable)",
    )
    add.add_argument("--anchor-file", type=Path, help="a tonglian.v1.TrustAnchor in JSON")
    add.add_argument("--timeout-ms", type=int, default=0, help="deadline for one adapter call")
    custom = add.add_argument_group("signed-Merkle (custom) chains")
    custom.add_argument("--url", help="ledger URL (adapter option url)")
    custom.add_argument("--ledger-id", help="ledger id the validators sign")
    custom.add_argument(
        "--validator",
        action="append",
        default=[],
        metavar="ID=PUBKEY",
        help="validator id and Ed25519 public key (hex or base64), repeatable",
    )
    custom.add_argument("--threshold", type=int, help="signatures needed per block (k)")
    evm = add.add_argument_group("EVM chains")
    evm.add_argument(
        "--rpc",
        action="append",
        default=[],
        metavar="URL",
        help="RPC endpoint (repeatable; the first is the adapter's)",
    )
    evm.add_argument("--evm-chain-id", type=int, help="the chain's EIP-155 chain id")
    evm.add_argument("--registry", help="RecordRegistry contract address")
    evm.add_argument("--inbox", help="Inbox contract address (for relay deliveries)")
    evm.add_argument("--finality", type=int, help="blocks on top before a block is final")
    evm.add_argument("--quorum", type=int, help="RPC endpoints that must agree (default: all)")
    evm.add_argument(
        "--validator-address",
        action="append",
        default=[],
        metavar="ADDR",
        help="QBFT/IBFT validator (repeatable): trust seals instead of endpoints",
    )
    evm.add_argument(
        "--private-key-env",
        metavar="NAME",
        help="environment variable of the hub (listed in its secret_env) that holds the "
        "submitter key",
    )
    evm.add_argument(
        "--private-key-file",
        metavar="PATH",
        help="file here that holds the submitter key: put into the chain's store on the hub "
        "(secret private_key) before the chain is registered",
    )
    fab = add.add_argument_group("Fabric chains")
    fab.add_argument("--config-block", type=Path, help="the channel's config block (trust anchor)")
    fab.add_argument("--channel")
    fab.add_argument("--chaincode")
    fab.add_argument(
        "--peer",
        action="append",
        default=[],
        metavar="HOST:PORT,MSP,TLS_ROOT_PEM",
        help="a peer's endpoint, organisation and TLS root file, read here and sent as PEM "
        "text (repeatable)",
    )
    fab.add_argument("--identity-msp", help="MSP id of the client identity")
    fab.add_argument(
        "--identity-cert", type=Path, help="client certificate (PEM file, read here, sent inline)"
    )
    fab.add_argument(
        "--identity-key",
        type=Path,
        help="client private key (PEM file, read here and put into the chain's secret store "
        "as identity_key)",
    )
    fab.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="CHAINCODE=POLICY",
        help="endorsement policy in Fabric syntax (default: the channel's)",
    )
    fab.add_argument(
        "--qscc-min-orgs",
        type=int,
        default=0,
        help="organisations whose peers must attest the validation code (0: all)",
    )
    add.add_argument("--json", action="store_true", help="print JSON")
    add.set_defaults(func=run_add)

    ls = csub.add_parser("list", help="list registered chains")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)

    show = csub.add_parser("show", help="show one chain and its head")
    show.add_argument("chain_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=run_show)

    rm = csub.add_parser("remove", help="remove a chain")
    rm.add_argument("chain_id")
    rm.add_argument("--json", action="store_true")
    rm.set_defaults(func=run_remove)


def _decode_key(text: str) -> bytes:
    try:
        if len(text) == 64:
            return bytes.fromhex(text)
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise InvalidInput(f"validator key {text[:20]!r} is neither hex nor base64") from None


def chain_from_args(args: argparse.Namespace) -> chains_pb2.Chain:
    """The Chain to register, from a file, a running devnet or flags."""
    if args.file:
        chain = parse_json_file(args.file, chains_pb2.Chain(), "chain")
    elif args.from_devnet:
        chain = devnet_chain(args.from_devnet).chain
    else:
        if not args.kind:
            raise InvalidInput("give a chain KIND, --file or --from-devnet")
        chain = chains_pb2.Chain(kind=KIND_NAMES[args.kind])
        chain.adapter.adapter = args.adapter or (
            "custom" if args.kind in ("custom", "signed-merkle") else args.kind
        )
        if args.anchor_file:
            chain.trust_anchor.CopyFrom(
                parse_json_file(args.anchor_file, chains_pb2.TrustAnchor(), "trust anchor")
            )
        if args.url:
            chain.adapter.options.update({"url": args.url})
        if args.ledger_id or args.validator or args.threshold:
            sm = chain.trust_anchor.signed_merkle
            sm.ledger_id = args.ledger_id or ""
            for item in args.validator:
                vid, sep, key = item.partition("=")
                if not sep:
                    raise InvalidInput(f"--validator wants ID=PUBKEY, got {item!r}")
                sm.validators.add(id=vid, ed25519_public_key=_decode_key(key))
            sm.threshold = args.threshold or 0
        if args.kind == "evm" and not args.anchor_file:
            evm_anchor(args, chain)
        if args.kind == "fabric" and not args.anchor_file:
            chain.CopyFrom(fabric_registration(args))
    if args.chain_id:
        chain.chain_id = args.chain_id
    if args.name:
        chain.display_name = args.name
    if args.adapter and (args.file or args.from_devnet):
        if args.adapter == "remote" and chain.adapter.adapter != "remote":
            # The devnet's options configure the in-process adapter, which now runs remotely.
            chain.adapter.ClearField("options")
        chain.adapter.adapter = args.adapter
    if args.adapter_address:
        chain.adapter.address = args.adapter_address
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(f"--option wants KEY=VALUE, got {item!r}")
        chain.adapter.options.update({key: value})
    for item in args.secret:
        name, ref = _secret_ref(item)
        chain.adapter.secrets[name].CopyFrom(ref)
    if args.timeout_ms:
        chain.adapter.timeout_ms = args.timeout_ms
    return chain


def _address(text: str | None, flag: str) -> bytes:
    raw = (text or "").removeprefix("0x")
    try:
        value = bytes.fromhex(raw)
    except ValueError:
        value = b""
    if len(value) != 20:
        raise InvalidInput(f"{flag} wants a 20-byte hex address, got {text!r}")
    return value


def evm_anchor(args: argparse.Namespace, chain: chains_pb2.Chain) -> None:
    """Fills an EVM chain's anchor and adapter settings from the EVM flags (the kind's
    defaults for finality and quorum live in adapters/evm/registration.py)."""
    from adapters.evm.registration import evm_chain

    if not args.rpc or args.evm_chain_id is None or not args.registry:
        raise InvalidInput("an EVM chain needs --rpc, --evm-chain-id and --registry")
    if args.private_key_env and args.private_key_file:
        raise InvalidInput("give --private-key-env or --private-key-file, not both")
    key = None
    if args.private_key_env:
        key = chains_pb2.SecretRef(env=args.private_key_env)
    if args.private_key_file:
        key = chains_pb2.SecretRef(file=args.private_key_file)
    built = evm_chain(
        rpc_endpoints=args.rpc,
        evm_chain_id=args.evm_chain_id,
        registry=_address(args.registry, "--registry"),
        inbox=_address(args.inbox, "--inbox") if args.inbox else b"",
        validators=[_address(a, "--validator-address") for a in args.validator_address],
        finality=args.finality,
        quorum=args.quorum,
        private_key=key,
    )
    chain.trust_anchor.CopyFrom(built.trust_anchor)
    chain.adapter.options.update(dict(built.adapter.options))
    for name, ref in built.adapter.secrets.items():
        chain.adapter.secrets[name].CopyFrom(ref)


def _secret_ref(item: str) -> tuple[str, chains_pb2.SecretRef]:
    """`NAME=store:ENTRY`, `NAME=file:PATH` or `NAME=env:VAR` as a SecretRef (the value itself
    is never taken here; a file is read and put into the chain's store when registering)."""
    name, sep, ref = item.partition("=")
    source, colon, where = ref.partition(":")
    if not sep or not colon or source not in ("env", "file", "store") or not where:
        raise InvalidInput(
            f"--secret wants NAME=store:ENTRY, NAME=file:PATH or NAME=env:VAR, got {name!r}=..."
        )
    return name, chains_pb2.SecretRef(**{source: where})


def fabric_registration(args: argparse.Namespace) -> chains_pb2.Chain:
    """A Fabric chain from the Fabric flags; the anchor is read from the config block.
    Certificates are read here and sent inline; the key becomes a `file:` secret that
    registering puts into the chain's store (tonglian_client/secret_files.py)."""
    from pydantic import ValidationError

    from adapters.fabric.options import FabricAdapterOptions
    from adapters.fabric.registration import InvalidConfigBlock, fabric_chain

    if not (args.config_block and args.channel and args.chaincode and args.peer):
        raise InvalidInput(
            "a Fabric chain needs --config-block, --channel, --chaincode and at least one --peer"
        )
    peers = []
    for item in args.peer:
        parts = item.split(",")
        if len(parts) != 3:
            raise InvalidInput(f"--peer wants HOST:PORT,MSP,TLS_ROOT_PEM, got {item!r}")
        peers.append(
            {
                "endpoint": parts[0],
                "msp_id": parts[1],
                "tls_root_cert_pem": _pem_file(Path(parts[2]), "--peer"),
            }
        )
    if not (args.identity_msp and args.identity_cert and args.identity_key):
        raise InvalidInput(
            "a Fabric chain needs --identity-msp, --identity-cert and --identity-key"
        )
    cert_pem = _pem_file(args.identity_cert, "--identity-cert")
    policies = {}
    for item in args.policy:
        name, sep, text = item.partition("=")
        if not sep:
            raise InvalidInput(f"--policy wants CHAINCODE=POLICY, got {item!r}")
        policies[name] = text
    try:
        options = FabricAdapterOptions.model_validate(
            {
                "channel": args.channel,
                "chaincode": args.chaincode,
                "peers": peers,
                "identity": {"msp_id": args.identity_msp, "cert_pem": cert_pem},
            }
        )
        return fabric_chain(
            args.chain_id or "",
            options,
            args.config_block,
            endorsement_policies=policies,
            qscc_min_orgs=args.qscc_min_orgs,
            identity_key=chains_pb2.SecretRef(file=str(args.identity_key)),
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"Fabric adapter settings: {problems}") from exc
    except (InvalidConfigBlock, ValueError, OSError) as exc:
        raise InvalidInput(f"--config-block {args.config_block}: {exc}") from exc


def _pem_file(path: Path, flag: str) -> str:
    """A certificate file given on the command line, as the PEM text the options carry."""
    try:
        return path.read_text()
    except OSError as exc:
        raise InvalidInput(f"{flag} {path}: cannot read it: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{flag} {path}: is not PEM text") from None


def _summary(chain: chains_pb2.Chain) -> list[str]:
    return [
        chain.chain_id,
        chains_pb2.ChainKind.Name(chain.kind).removeprefix("CHAIN_KIND_").lower(),
        chain.adapter.adapter,
        chain.display_name,
        chain.registered_at.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")
        if chain.HasField("registered_at")
        else "",
    ]


async def run_add(args: argparse.Namespace) -> int:
    chain = chain_from_args(args)
    async with client(args) as hub:
        registered = await hub.register_chain(chain)
    if args.json:
        print_json(to_json(registered))
    else:
        print(
            f"registered chain {registered.chain_id} ({_summary(registered)[1]}, "
            f"adapter {registered.adapter.adapter})"
        )
    return exit_codes.OK


async def run_list(args: argparse.Namespace) -> int:
    async with client(args) as hub:
        chains = await hub.list_chains()
    if args.json:
        print_json([to_json(c) for c in chains])
    elif chains:
        print(
            table(["chain", "kind", "adapter", "name", "registered"], [_summary(c) for c in chains])
        )
    else:
        print("no chains registered; add one with `tonglian chains add`")
    return exit_codes.OK


async def run_show(args: argparse.Namespace) -> int:
    async with client(args) as hub:
        chain = await hub.get_chain(args.chain_id)
        status: chains_pb2.GetChainStatusResponse | None = None
        detail = ""
        try:
            status = await hub.chain_status(args.chain_id)
        except ClientError as exc:  # the chain may be down; show what the hub knows
            detail = str(exc)
    if args.json:
        out = to_json(chain)
        out["status"] = to_json(status) if status else {"detail": detail}
        print_json(out)
        return exit_codes.OK
    print(table(["chain", "kind", "adapter", "name", "registered"], [_summary(chain)]))
    if status:
        print(f"head: height {status.head.height}, final {status.head.final_height}")
    else:
        print(f"head: unknown ({detail})")
    return exit_codes.OK


async def run_remove(args: argparse.Namespace) -> int:
    async with client(args) as hub:
        await hub.remove_chain(args.chain_id)
    if args.json:
        print_json({"removed": args.chain_id})
    else:
        print(f"removed chain {args.chain_id}")
    return exit_codes.OK
