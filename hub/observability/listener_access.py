"""Who is asking the HTTP listener, and the refusals it answers (401, 403), audited.

Under mutual TLS the listener asks for, without requiring, a client certificate of the
gRPC client CA. The TLS handshake refuses a certificate of another CA or outside its
dates, as gRPC's does; hub/authentication.py then checks the certificate on every
request as it checks every call: a revoked one, or one that expired while its
connection stayed open, gets 401 on every path, /healthz included. A request without
a certificate gets 401 on /metrics and /status and only "SERVING" on /healthz.

Refusals of a certificate (401 for a presented certificate, 403) are appended to the
audit log like refused calls; answers are not (a scrape every 15 seconds would fill the
log with itself), nor are requests that present no certificate.
"""

from __future__ import annotations

from typing import NoReturn

import grpc
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from hub.audit.call import AuditedCall
from hub.audit.log import AuditLog
from hub.authentication import Authenticator
from hub.errors import HubError, PermissionDenied
from hub.principal import Principal

UNAUTHENTICATED = "unauthenticated"


def client_pem(request: web.Request) -> bytes | None:
    """The client certificate the TLS handshake let through, PEM; None when none."""
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport else None
    der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    if not der:
        return None
    return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM)


class ListenerAccess:
    def __init__(self, authenticator: Authenticator | None, log: AuditLog) -> None:
        """`authenticator` None: a plaintext listener (--insecure), where nobody is named."""
        self._authenticator = authenticator
        self._log = log

    async def caller(
        self, request: web.Request, action: str, *, required: bool
    ) -> Principal | None:
        """The principal the request's certificate names; None on a plaintext listener,
        and without a certificate where none is `required`. 401 otherwise."""
        if self._authenticator is None:
            return None
        pem = client_pem(request)
        if pem is None:
            if not required:
                return None
            raise web.HTTPUnauthorized(
                text=f"{request.path} needs an operator client certificate of the hub's CA "
                "(mutual TLS)\n"
            )
        try:
            return self._authenticator.authenticate(pem)
        except HubError as exc:
            await self._log.append(
                principal=UNAUTHENTICATED,
                action=action,
                target=request.path,
                outcome=f"denied: {exc}",
            )
            raise web.HTTPUnauthorized(text=f"{exc}\n") from exc

    def record(self, principal: Principal, action: str, request: web.Request) -> AuditedCall:
        """The audit record the operator use cases write their decision into."""
        return AuditedCall(principal, action, self._log, request.path)

    async def refuse(self, record: AuditedCall, exc: PermissionDenied) -> NoReturn:
        """Appends the refusal, then answers 403 with its reason."""
        await record.fail(grpc.StatusCode.PERMISSION_DENIED, str(exc))
        raise web.HTTPForbidden(text=f"{exc}\n") from exc
