"""`tonglian pki init|issue|revoke|show`: a development CA and certificates for devnets."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from hub import pki
from hub.cli import exit_codes
from hub.cli.output import print_json
from hub.principal import ROLES

DEFAULT_DIR = Path("tonglian-pki")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("pki", help="development CA: init, issue and revoke certificates")
    psub = p.add_subparsers(dest="pki_command", metavar="ACTION", required=True)

    init = psub.add_parser("init", help="create a CA, an empty CRL and the hub's certificate")
    init.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="folder (default tonglian-pki)")
    init.add_argument(
        "--host",
        action="append",
        default=[],
        help="name or IP the hub is reached at (repeatable; default 127.0.0.1 and localhost)",
    )
    init.add_argument("--days", type=int, default=3650)
    init.add_argument("--json", action="store_true", help="print the files written as JSON")
    init.set_defaults(func=run_init)

    issue = psub.add_parser("issue", help="issue a client certificate: O=agency, OU=role, CN=name")
    issue.add_argument("name", help="the client (CN), also the file name NAME.crt/NAME.key")
    issue.add_argument("--org", required=True, help="the agency (O), as the policy names it")
    issue.add_argument("--role", choices=sorted(ROLES), default="agency")
    issue.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    issue.add_argument(
        "--days",
        type=float,
        default=pki.DEFAULT_DAYS,
        help=f"validity, more than 0 and at most {pki.MAX_DAYS} (default {pki.DEFAULT_DAYS})",
    )
    issue.add_argument("--json", action="store_true", help="print the files written as JSON")
    issue.set_defaults(func=run_issue)

    revoke = psub.add_parser("revoke", help="add a certificate to the CRL (the hub re-reads it)")
    revoke.add_argument("cert", type=Path)
    revoke.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    revoke.add_argument("--json", action="store_true", help="print the revoked serial as JSON")
    revoke.set_defaults(func=run_revoke)

    show = psub.add_parser("show", help="show a certificate's subject, serial and validity")
    show.add_argument("cert", type=Path)
    show.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="to tell whether it is revoked")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=run_show)


def run_init(args: argparse.Namespace) -> int:
    hosts = tuple(args.host) or ("127.0.0.1", "localhost")
    hub = pki.init_ca(args.dir, days=args.days, hub_hosts=hosts)
    if args.json:
        print_json(
            {
                "ca_cert": str(args.dir / pki.CA_CERT),
                "ca_key": str(args.dir / pki.CA_KEY),
                "crl": str(args.dir / pki.CRL),
                "hub_cert": str(hub.cert),
                "hub_key": str(hub.key),
                "hosts": list(hosts),
            }
        )
        return exit_codes.OK
    print(f"CA        {args.dir / pki.CA_CERT}  (key {args.dir / pki.CA_KEY}: keep it private)")
    print(f"CRL       {args.dir / pki.CRL}")
    print(f"hub       {hub.cert}  {hub.key}  (for {', '.join(hosts)})")
    print(f"next: tonglian pki issue NAME --org AGENCY --role agency|operator --dir {args.dir}")
    print(f"      tonglian serve --pki {args.dir} --policy POLICY.yaml")
    return exit_codes.OK


def run_issue(args: argparse.Namespace) -> int:
    issued = pki.issue(args.dir, args.name, org=args.org, role=args.role, days=args.days)
    if args.json:
        print_json(
            {
                "cert": str(issued.cert),
                "key": str(issued.key),
                "ca": str(args.dir / pki.CA_CERT),
                "serial": format(issued.serial, "x"),
                "subject": f"CN={args.name},OU={args.role},O={args.org}",
            }
        )
        return exit_codes.OK
    print(f"issued    {issued.cert}  {issued.key}  serial {issued.serial:x}")
    print(f"subject   CN={args.name}, OU={args.role}, O={args.org}")
    print(
        f"use       TONGLIAN_CERT={issued.cert} TONGLIAN_KEY={issued.key} "
        f"TONGLIAN_CA={args.dir / pki.CA_CERT}"
    )
    return exit_codes.OK


def run_revoke(args: argparse.Namespace) -> int:
    serial = pki.revoke(args.dir, args.cert)
    if args.json:
        print_json({"revoked_serial": format(serial, "x"), "crl": str(args.dir / pki.CRL)})
        return exit_codes.OK
    print(
        f"revoked   serial {serial:x}; {args.dir / pki.CRL} rewritten (a running hub re-reads it)"
    )
    return exit_codes.OK


def run_show(args: argparse.Namespace) -> int:
    cert = pki.load_certificate(args.cert)
    revoked = cert.serial_number in pki.revoked_serials(args.dir) if args.dir.exists() else False
    now = datetime.now(UTC)
    info = {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "expired": now > cert.not_valid_after_utc,
        "revoked": revoked,
    }
    if args.json:
        print_json(info)
    else:
        for key, value in info.items():
            print(f"{key:<11}{value}")
    return exit_codes.OK
