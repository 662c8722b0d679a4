"""Who is asking the HTTP listener, and the refusals it answers (401, 403), audited.

Under mutual TLS the listener asks for, without requiring, a client certificate of the
gRPC client CA. The TLS handshake refuses a certificate of another CA; it leaves the
dates to this module (hub/observability/http_listener.py server_ssl), so that a person
whose certificate expired is told so, with its date, instead of seeing the connection
drop. hub/authentication.py checks the certificate on every request as it checks every
gRPC call (dates, the CRL, the subject), and the issuing CA's dates are checked here:
a revoked or expired certificate gets 401 on every path, /healthz included, on a new
connection as on one kept open. A request without a certificate gets 401 on /metrics
and /status and only "SERVING" on /healthz.

Refusals of a certificate (401 for a presented certificate, 403) are appended to the
audit log like refused calls; answers are not (a scrape every 15 seconds would fill the
log with itself), nor are requests that present no certificate.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import grpc
from aiohttp import web
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding

from hub.audit.call import AuditedCall
from hub.audit.log import AuditLog
from hub.authentication import Authenticator, load_ca_bundle
from hub.errors import HubError, InvalidInput, PermissionDenied, Unauthenticated
from hub.principal import Principal

UNAUTHENTICATED = "unauthenticated"


def client_certificate(request: web.Request) -> x509.Certificate | None:
    """The client certificate the TLS handshake let through; None when none."""
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport else None
    der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    return x509.load_der_x509_certificate(der) if der else None


def issued_by_a_valid_ca(
    cert: x509.Certificate, cas: list[x509.Certificate], now: datetime
) -> bool:
    """Whether a CA of `cas` within its own dates signed `cert` (the handshake checked
    the signature, not the CA's dates)."""
    for ca in cas:
        if ca.subject != cert.issuer:
            continue
        if not ca.not_valid_before_utc <= now <= ca.not_valid_after_utc:
            continue
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False


class ListenerAccess:
    def __init__(
        self, authenticator: Authenticator | None, log: AuditLog, client_ca: Path | None
    ) -> None:
        """`authenticator` None: a plaintext listener (--insecure), where nobody is named.
        `client_ca` is the gRPC client CA bundle, whose dates the listener checks."""
        self._authenticator = authenticator
        self._log = log
        self._cas: list[x509.Certificate] = []
        if authenticator is not None and client_ca is not None:
            try:
                self._cas = load_ca_bundle(client_ca.read_bytes(), client_ca)
            except OSError as exc:
                raise InvalidInput(
                    f"cannot read client CA file {client_ca}: {exc.strerror}"
                ) from exc

    async def caller(
        self, request: web.Request, action: str, *, required: bool
    ) -> Principal | None:
        """The principal the request's certificate names; None on a plaintext listener,
        and without a certificate where none is `required`. 401 otherwise."""
        if self._authenticator is None:
            return None
        cert = client_certificate(request)
        if cert is None:
            if not required:
                return None
            raise web.HTTPUnauthorized(
                text=f"{request.path} needs an operator client certificate of the hub's CA "
                "(mutual TLS)\n"
            )
        try:
            principal = self._authenticator.authenticate(cert.public_bytes(Encoding.PEM))
            if not issued_by_a_valid_ca(cert, self._cas, datetime.now(UTC)):
                raise Unauthenticated(
                    f"client certificate {cert.subject.rfc4514_string()!r} was issued by a CA "
                    f"outside its validity dates ({cert.issuer.rfc4514_string()!r})"
                )
            return principal
        except HubError as exc:
            await self._log.append(
                principal=UNAUTHENTICATED,
                action=action,
                target=request.path,
                outcome=f"denied: {exc}",
            )
            raise web.HTTPUnauthorized(text=f"{exc}\n") from exc

    def issuer_in_dates(self, cert: x509.Certificate) -> bool:
        """Whether a client CA within its own dates issued `cert` (the HTTP/JSON gateway
        asks too: its handshake, like this listener's, leaves dates to the hub)."""
        return issued_by_a_valid_ca(cert, self._cas, datetime.now(UTC))

    def record(self, principal: Principal, action: str, request: web.Request) -> AuditedCall:
        """The audit record the operator use cases write their decision into."""
        return AuditedCall(principal, action, self._log, request.path)

    async def refuse(self, record: AuditedCall, exc: PermissionDenied) -> NoReturn:
        """Appends the refusal, then answers 403 with its reason."""
        await record.fail(grpc.StatusCode.PERMISSION_DENIED, str(exc))
        raise web.HTTPForbidden(text=f"{exc}\n") from exc
