"""`tonglian serve`: runs the hub in the foreground until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
from pathlib import Path

from hub.config import load_settings
from hub.observability import logs
from hub.server import serve


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the hub")
    p.add_argument(
        "--listen", metavar="HOST:PORT", help="address to listen on (default 127.0.0.1:50051)"
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        help="where the hub keeps its store (default: per-user data folder)",
    )
    p.add_argument(
        "--store",
        metavar="URL",
        help="postgresql://USER@HOST:PORT/DB shared by several replicas (password from "
        "PGPASSWORD or ~/.pgpass; default: SQLite in --data-dir)",
    )
    p.add_argument(
        "--replica-id",
        metavar="NAME",
        help="this replica's name, shown as the holder of the routes it works (default: host name)",
    )
    p.add_argument("--config", type=Path, help="settings file (.toml or .yaml)")
    p.add_argument("--verify-workers", type=int, help="processes that verify proofs")
    seen = p.add_argument_group("observability (see docs/operations.md)")
    seen.add_argument(
        "--http-listen",
        metavar="HOST:PORT",
        help="serve /healthz, /metrics and /status over HTTP(S) here; a bare PORT binds "
        "to 127.0.0.1 (default: off)",
    )
    seen.add_argument(
        "--log-format", choices=("text", "json"), help="log lines as text or JSON (default text)"
    )
    seen.add_argument(
        "--otlp-endpoint",
        metavar="URL",
        help="export traces over OTLP/gRPC to this collector "
        "(default: $OTEL_EXPORTER_OTLP_ENDPOINT, else off)",
    )
    tls = p.add_argument_group("mutual TLS and access (see `tonglian pki --help`)")
    tls.add_argument(
        "--pki",
        type=Path,
        metavar="DIR",
        help="a `tonglian pki init` folder: uses its hub.crt, hub.key, ca.crt and crl.pem",
    )
    tls.add_argument("--tls-cert", type=Path, help="the hub's certificate (PEM)")
    tls.add_argument("--tls-key", type=Path, help="the hub's private key (PEM)")
    tls.add_argument(
        "--client-ca", type=Path, help="CA certificates that issue client certificates"
    )
    tls.add_argument(
        "--crl", type=Path, help="certificate revocation list, re-read when it changes"
    )
    tls.add_argument("--policy", type=Path, help="access policy (YAML), re-read when it changes")
    tls.add_argument(
        "--insecure",
        action="store_true",
        default=None,
        help="plaintext without client certificates: development machines only",
    )
    tls.add_argument("--anchor-chain", help="registered chain to anchor the audit log head on")
    p.set_defaults(func=run)


def _in_pki(folder: Path | None, name: str) -> Path | None:
    return None if folder is None else folder / name


async def run(args: argparse.Namespace) -> int:
    settings = load_settings(
        args.config,
        listen=args.listen,
        data_dir=args.data_dir,
        store=args.store,
        replica_id=args.replica_id,
        verify_workers=args.verify_workers,
        tls_cert=args.tls_cert or _in_pki(args.pki, "hub.crt"),
        tls_key=args.tls_key or _in_pki(args.pki, "hub.key"),
        client_ca=args.client_ca or _in_pki(args.pki, "ca.crt"),
        crl=args.crl or _in_pki(args.pki, "crl.pem"),
        policy_file=args.policy,
        insecure=args.insecure,
        audit_anchor_chain=args.anchor_chain,
        http_listen=args.http_listen,
        log_format=args.log_format,
        otlp_endpoint=args.otlp_endpoint,
    )
    logs.configure(settings.log_level, settings.log_format)
    await serve(settings)
    return 0
