"""Checks a client certificate the TLS handshake let through, and names its principal.

The handshake already requires a certificate chaining to the client CA, but gRPC
Python cannot check revocation and reports handshake failures only vaguely. So
every call is checked here again, with messages a person can act on: issued by a
trusted CA, valid now (a connection outlives a certificate), not on the CRL (which
is re-read when it changes), and a subject naming agency, role and client.

Replicas share revocations through their store (`share_through`): the CRL file a
replica loads is published there when it is newer than the store's, and every
replica also refuses what the store's newest CRL of each CA revokes, once it has
checked the CA's signature itself. So `tonglian pki revoke` next to any one replica
reaches all of them within a second, whichever copy of the CRL file each reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.errors import HubError, InvalidInput, Unauthenticated
from hub.principal import Principal, principal_of
from hub.reloading_file import ReloadingFile
from hub.store.base import SharedRevocations
from hub.store.notifications import CRL_PREFIX

log = logging.getLogger("tonglian.hub")

# Client certificates remembered parsed and checked: more than a hub has clients.
PARSED_CERTIFICATES = 256
# How often the CRL file is looked at for a change to publish, and the store's CRLs
# re-read when a notification was missed (a change is usually heard at once).
CRL_WATCH_INTERVAL = 0.25


def load_ca_bundle(data: bytes, path: Path) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise InvalidInput(f"client CA file {path} holds no PEM certificates: {exc}") from exc
    return certs


class Revocations:
    """Serial numbers on a CRL, which must be signed by one of the trusted CAs."""

    def __init__(self, crl: x509.CertificateRevocationList, ca: x509.Certificate) -> None:
        self.crl = crl
        self.revoked = {r.serial_number: r.revocation_date_utc for r in crl}
        # The CA that signed it, by name and key: two CAs of one name never share a row
        # of the store (SharedRevocations), so neither displaces the other's CRL.
        self.issuer = f"{crl.issuer.rfc4514_string()} {_key_id(ca)}"


def crl_parser(cas: list[x509.Certificate]) -> Callable[[bytes, Path], Revocations]:
    def parse(data: bytes, path: Path) -> Revocations:
        try:
            crl = (
                x509.load_pem_x509_crl(data)
                if data.lstrip().startswith(b"-----")
                else x509.load_der_x509_crl(data)
            )
        except ValueError as exc:
            raise InvalidInput(f"CRL file {path} does not parse: {exc}") from exc
        for ca in cas:
            if ca.subject == crl.issuer and crl.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
                return Revocations(crl, ca)
        raise InvalidInput(f"CRL file {path} is not signed by a trusted client CA")

    return parse


class Authenticator:
    def __init__(self, cas: list[x509.Certificate], crl: ReloadingFile[Revocations] | None) -> None:
        if not cas:
            raise InvalidInput("the client CA bundle is empty")
        self._cas = cas
        self._crl = crl
        # The store's newest CRL of each CA (checked here), shared by every replica.
        self._shared: list[Revocations] = []
        self._first_shared = asyncio.Event()
        # Certificates whose issuer signature checked, with the principal they name.
        self._principals: dict[bytes, Principal] = {}

    @classmethod
    def from_files(cls, ca_path: Path, crl_path: Path | None) -> Authenticator:
        try:
            data = ca_path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read client CA file {ca_path}: {exc.strerror}") from exc
        cas = load_ca_bundle(data, ca_path)
        crl = ReloadingFile(crl_path, crl_parser(cas), "CRL") if crl_path else None
        return cls(cas, crl)

    def authenticate(self, pem: bytes, now: datetime | None = None) -> Principal:
        cert = self._issued(pem)
        at = now or datetime.now(UTC)
        if at < cert.not_valid_before_utc:
            raise Unauthenticated(
                f"client certificate {_who(cert)!r} is not valid before "
                f"{cert.not_valid_before_utc.isoformat()}"
            )
        if at > cert.not_valid_after_utc:
            raise Unauthenticated(
                f"client certificate {_who(cert)!r} expired at "
                f"{cert.not_valid_after_utc.isoformat()}"
            )
        revoked_on = self._revoked_on(cert.serial_number)
        if revoked_on is not None:
            raise Unauthenticated(
                f"client certificate {_who(cert)!r} (serial {cert.serial_number:x}) was "
                f"revoked on {revoked_on.isoformat()}"
            )
        principal = self._principals.get(pem)
        if principal is None:
            principal = self._principals[pem] = principal_of(cert)
            while len(self._principals) > PARSED_CERTIFICATES:
                del self._principals[next(iter(self._principals))]
        return principal

    def _revoked_on(self, serial: int) -> datetime | None:
        """When `serial` was revoked by this replica's CRL file or a CRL another replica
        shared through the store; None: it was not."""
        lists = self._shared if self._crl is None else [self._crl.current(), *self._shared]
        for revocations in lists:
            if (revoked_on := revocations.revoked.get(serial)) is not None:
                return revoked_on
        return None

    async def share_through(self, store: SharedRevocations) -> None:
        """Runs until cancelled: publishes this replica's CRL file to the store whenever
        it changes (looked at every CRL_WATCH_INTERVAL), and follows the CRLs the store
        holds, as every replica publishes them (notified, and re-read every second in
        case a notification was missed)."""
        changed = asyncio.Event()

        def heard(name: str) -> None:
            if name.startswith(CRL_PREFIX):
                changed.set()

        store.trust.on_change(heard)
        parse = crl_parser(self._cas)
        published: Revocations | None = None
        refused: set[bytes] = set()
        followed_at = -CRL_WATCH_INTERVAL
        failing = False
        while True:
            try:
                local = None if self._crl is None else self._crl.current()
                if local is not None and local is not published:
                    der = local.crl.public_bytes(Encoding.DER)
                    updated = local.crl.last_update_utc.timestamp()
                    await store.publish_crl(local.issuer, updated, der)
                    published = local
                if changed.is_set() or time.monotonic() - followed_at > 4 * CRL_WATCH_INTERVAL:
                    changed.clear()
                    followed_at = time.monotonic()
                    self._shared = _checked(parse, await store.crls(), refused)
                    self._first_shared.set()
                failing = False
            except HubError as exc:  # the store is away: the CRL file stays in force
                if not failing:
                    log.warning("sharing revocations through the store: %s", exc)
                failing = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), CRL_WATCH_INTERVAL)

    async def shared_once(self, timeout: float = 10.0) -> None:
        """Waits until `share_through` has published and read the store's CRLs once."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_shared.wait(), timeout)

    def _issued(self, pem: bytes) -> x509.Certificate:
        """The certificate, once its issuer's signature checks: that never changes for the
        same bytes, so a client pays for it once, not on every call (validity and
        revocation are checked on every call)."""
        if pem in self._principals:
            return _parse(pem)
        cert = _parse(pem)
        if not any(_issued_by(cert, ca) for ca in self._cas):
            raise Unauthenticated(
                f"client certificate {_who(cert)!r} was not issued by a CA this hub trusts "
                f"(issuer {cert.issuer.rfc4514_string()!r})"
            )
        return cert

    async def lapse(self, pem: bytes, interval: float) -> Unauthenticated:
        """Waits until the certificate stops authenticating (revoked on the current CRL, or
        past its notAfter) and returns why; for calls that outlive a moment (watches).

        Checks every `interval` seconds and wakes at notAfter exactly, so a revocation ends
        the call within `interval` plus the CRL's reload."""
        cert = _parse(pem)
        while True:
            try:
                self.authenticate(pem)
            except Unauthenticated as exc:
                return exc
            left = (cert.not_valid_after_utc - datetime.now(UTC)).total_seconds()
            await asyncio.sleep(max(0.001, min(interval, left + 0.001)))


def _checked(
    parse: Callable[[bytes, Path], Revocations], crls: list[bytes], refused: set[bytes]
) -> list[Revocations]:
    """The store's CRLs that a CA this replica trusts signed; others are logged (once:
    `refused` remembers them) and not used."""
    out = []
    for der in crls:
        if der in refused:
            continue
        try:
            out.append(parse(der, Path("(the store's CRL)")))
        except HubError as exc:
            refused.add(der)
            log.warning("a CRL in the store is not used: %s", exc)
    return out


def _key_id(ca: x509.Certificate) -> str:
    """The SHA-256 of the CA's public key (SubjectPublicKeyInfo), in hex."""
    spki = ca.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def _who(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


@functools.lru_cache(maxsize=PARSED_CERTIFICATES)
def _parse(pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise Unauthenticated(f"client certificate does not parse: {exc}") from exc


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    if cert.issuer != ca.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
