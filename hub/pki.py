"""A development PKI for devnets, tests and the demo: one CA, ECDSA P-256 certificates, a CRL.

Production deployments bring their own CA; the hub only needs its files (CA
certificate, its own key pair, a CRL). The subject layout is the one the hub reads
principals from (hub/principal.py): O = agency, OU = role, CN = client.

Layout of a PKI folder:
    ca.crt ca.key crl.pem        the CA and its revocation list
    hub.crt hub.key              the hub's server (and predicate signing) certificate
    NAME.crt NAME.key            one pair per issued client
"""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub.errors import InvalidInput
from hub.principal import ROLES

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
CRL = "crl.pem"
HUB_NAME = "hub"
HUB_ORG = "tonglian-hub"
HUB_ROLE = "hub"
DEFAULT_DAYS = 365
# Longer than any CA should be trusted for; also keeps the end date within what a
# certificate can carry.
MAX_DAYS = 36500
# A new certificate's validity starts this far back, for clients whose clocks run late.
BACKDATE = timedelta(minutes=5)
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
# X.509's upper bound for a common name and an organisation name (RFC 5280).
MAX_NAME = 64


@dataclass(frozen=True)
class Issued:
    """Files of one issued certificate."""

    cert: Path
    key: Path
    serial: int


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def load_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as exc:
        raise InvalidInput(f"cannot read certificate {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise InvalidInput(f"certificate {path} is not a PEM certificate: {exc}") from exc


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise InvalidInput(f"cannot read private key {path}: {exc.strerror}") from exc
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"private key {path} does not load: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InvalidInput(f"private key {path} is not an ECDSA key")
    return key


def check_days(days: float, *, start: datetime | None = None) -> None:
    """InvalidInput unless a certificate valid for `days` from `start` (default: now, back-
    dated by BACKDATE) is valid now and for at most MAX_DAYS: a negative, zero, endless or
    not-a-number validity would make a certificate nobody can use, or none at all."""
    if not math.isfinite(days) or days <= 0 or days > MAX_DAYS:
        raise InvalidInput(
            f"validity of {days:g} days: a certificate must be valid for more than 0 and "
            f"at most {MAX_DAYS} days"
        )
    if start is None and timedelta(days=days) <= BACKDATE:
        raise InvalidInput(
            f"validity of {days:g} days: a new certificate starts {BACKDATE.seconds // 60} "
            "minutes back (for late clocks), so it would have expired when issued"
        )


def check_subject(name: str, org: str, role: str) -> None:
    """InvalidInput unless the subject is one the hub reads a principal from and the files
    NAME.crt/NAME.key are not the CA's or (for a client) the hub's own."""
    if not name or len(name) > MAX_NAME or set(name) - NAME_CHARS or name.startswith("."):
        raise InvalidInput(
            f"certificate name {name!r} must be 1 to {MAX_NAME} letters, digits, '-', '_' "
            "or '.', not starting with '.'"
        )
    if role != HUB_ROLE and role not in ROLES:
        raise InvalidInput(f"role {role!r} must be one of {', '.join(sorted(ROLES))}")
    if name == CA_CERT.removesuffix(".crt") or (name == HUB_NAME and role != HUB_ROLE):
        raise InvalidInput(
            f"certificate name {name!r} is taken: {name}.crt and {name}.key are the "
            f"{'CA' if name != HUB_NAME else 'hub'}'s own files"
        )
    if not org or len(org) > MAX_NAME or "/" in org or any(ord(c) < 0x20 for c in org):
        raise InvalidInput(
            f"organisation {org!r} must be 1 to {MAX_NAME} characters, with no '/' and no "
            "control characters"
        )


def _ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    if not (folder / CA_CERT).exists():
        raise InvalidInput(f"no CA in {folder}: create one with `tonglian pki init --dir {folder}`")
    return load_certificate(folder / CA_CERT), load_private_key(folder / CA_KEY)


def init_ca(
    folder: Path,
    *,
    name: str = "Tonglian Dev CA",
    days: int = 3650,
    hub_hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
) -> Issued:
    """Creates a CA, an empty CRL and the hub's certificate in a new `folder`."""
    check_days(days)
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / CA_CERT).exists():
        raise InvalidInput(f"{folder / CA_CERT} exists already; choose another folder")
    key = _new_key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tonglian"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(folder / CA_KEY, key)
    _write_cert(folder / CA_CERT, cert)
    write_crl(folder, [])
    return issue(folder, HUB_NAME, org=HUB_ORG, role=HUB_ROLE, hosts=hub_hosts, days=days)


def issue(
    folder: Path,
    name: str,
    *,
    org: str,
    role: str,
    hosts: tuple[str, ...] = (),
    days: float = DEFAULT_DAYS,
    not_before: datetime | None = None,
) -> Issued:
    """Issues NAME.crt/NAME.key: subject CN=name, O=org, OU=role, signed by the folder's CA.

    The hub's own certificate (role "hub") is a TLS server certificate for `hosts`;
    every other role gets a client certificate.
    """
    check_subject(name, org, role)
    check_days(days, start=not_before)
    ca_cert, ca_key = _ca(folder)
    key = _new_key()
    start = not_before or datetime.now(UTC) - BACKDATE
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
                    x509.NameAttribute(NameOID.COMMON_NAME, name),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if role == HUB_ROLE:
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        usage = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    else:
        usage = [ExtendedKeyUsageOID.CLIENT_AUTH]
    builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    issued = Issued(folder / f"{name}.crt", folder / f"{name}.key", cert.serial_number)
    _write_key(issued.key, key)
    _write_cert(issued.cert, cert)
    return issued


def revoked_serials(folder: Path) -> list[int]:
    path = folder / CRL
    if not path.exists():
        return []
    crl = x509.load_pem_x509_crl(path.read_bytes())
    return [r.serial_number for r in crl]


def write_crl(folder: Path, serials: list[int], *, days: int = 30) -> Path:
    """(Re)writes the folder's CRL listing `serials` as revoked now."""
    ca_cert, ca_key = _ca(folder)
    now = datetime.now(UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - timedelta(minutes=1))
        .next_update(now + timedelta(days=days))
    )
    for serial in sorted(set(serials)):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - timedelta(seconds=1))
            .build()
        )
    crl = builder.sign(ca_key, hashes.SHA256())
    path = folder / CRL
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    tmp.replace(path)
    return path


def revoke(folder: Path, cert_path: Path) -> int:
    """Adds a certificate to the folder's CRL; returns its serial number."""
    cert = load_certificate(cert_path)
    ca_cert, _ = _ca(folder)
    if cert.issuer != ca_cert.subject:
        raise InvalidInput(f"{cert_path} was not issued by the CA in {folder}")
    write_crl(folder, [*revoked_serials(folder), cert.serial_number])
    return cert.serial_number


STATEMENT_CERT = "statement.crt"
STATEMENT_KEY = "statement.key"


def own_statement_key(data_dir: Path, *, years: int = 10) -> tuple[Path, Path]:
    """The hub's own statement key and self-signed OU=hub certificate, made once.

    A hub with no signing certificate from a CA still signs every bundle it serves,
    so "the hub said so at T" is always checkable; readers trust it by naming this
    certificate (`tonglian verify --hub-key DATA_DIR/statement.crt`).
    """
    cert_path, key_path = data_dir / STATEMENT_CERT, data_dir / STATEMENT_KEY
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    data_dir.mkdir(parents=True, exist_ok=True)
    key = _new_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "tonglian hub statement key"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "hub"),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return cert_path, key_path
