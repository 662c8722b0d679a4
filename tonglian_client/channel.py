"""The one module that opens gRPC channels to a hub and turns failed calls into typed errors.

A hub's own failures carry a `google.rpc.ErrorInfo` (proto/tonglian/v1/errors.proto):
its reason picks the exception class. A failure without one did not come from a hub:
either nothing listens at the address (HubUnreachable), or something does and the
TLS handshake failed, which gRPC reports without the reason; then the client's own
certificate and CA are examined to name the likely cause (HandshakeRefused).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from typing import TYPE_CHECKING, Any

import grpc
from cryptography.exceptions import InvalidSignature

from tonglian_client.credentials import Credentials
from tonglian_client.errors import (
    DOMAIN,
    ClientError,
    HandshakeRefused,
    HubUnreachable,
    error_for,
)

if TYPE_CHECKING:
    from cryptography import x509
    from google.rpc import error_details_pb2

MAX_MESSAGE = 64 * 1024 * 1024
OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
]
# The standard trailer of a google.rpc.Status (grpc rich status).
DETAILS_KEY = "grpc-status-details-bin"
PROBE_SECONDS = 2.0


def open_channel(address: str, credentials: Credentials | None) -> grpc.aio.Channel:
    """An asyncio channel: mutual TLS with `credentials`; plaintext when None (--insecure hub)."""
    if credentials is None:
        return grpc.aio.insecure_channel(address, options=OPTIONS)
    return grpc.aio.secure_channel(address, credentials.channel_credentials(), options=OPTIONS)


def error_info(exc: grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The tonglian.v1 ErrorInfo a failed call carries, if a hub sent one."""
    trailers: Any = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
    for key, value in trailers or ():
        if key != DETAILS_KEY:
            continue
        # Imported here: only failed calls carry details, and a command starts faster without.
        from google.rpc import error_details_pb2, status_pb2

        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info) and info.domain == DOMAIN:
                return info
    return None


async def listening(address: str) -> bool:
    """Whether anything accepts a TCP connection at `address` (HOST:PORT)."""
    host, _, port = address.rpartition(":")
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host.strip("[]") or "127.0.0.1", int(port)), PROBE_SECONDS
        )
    except (OSError, ValueError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def error_from(
    exc: grpc.RpcError, address: str, credentials: Credentials | None
) -> ClientError:
    """The typed error for a failed call: by the hub's ErrorInfo reason when it sent one."""
    code: grpc.StatusCode = exc.code()
    details = str(exc.details() or "")
    info = error_info(exc)
    if info is not None:
        return error_for(code, f"{code.name}: {details}", info.reason, dict(info.metadata))
    if code != grpc.StatusCode.UNAVAILABLE:
        return ClientError(code, f"{code.name}: {details}")
    if not await listening(address):
        return HubUnreachable(address)
    if credentials is not None:
        seen = await asyncio.to_thread(tls_probe, address)
        if isinstance(seen, str):
            return HandshakeRefused(
                f"{address} is not a TLS gRPC server: it did not answer a TLS handshake "
                f"({seen}); check the hub's address (its gRPC listener, not its HTTP one), "
                "or connect without TLS to a hub run with --insecure"
            )
        untrusted = hub_not_trusted(address, seen, credentials)
        if untrusted is not None:
            return untrusted
    return handshake_refused(address, credentials, details)


def tls_probe(address: str) -> bytes | str:
    """The certificate the server at `address` presents (DER), or why it spoke no TLS.
    Only looked at to name a failed handshake's cause; nothing is sent after it."""
    host, _, port = address.rpartition(":")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    try:
        with (
            socket.create_connection(
                (host.strip("[]") or "127.0.0.1", int(port)), PROBE_SECONDS
            ) as raw,
            context.wrap_socket(raw) as tls,
        ):
            return tls.getpeercert(binary_form=True) or b""
    except ssl.SSLError as exc:
        return str(exc.reason or exc)
    except (OSError, ValueError) as exc:
        return str(exc)


def hub_not_trusted(address: str, der: bytes, credentials: Credentials) -> ClientError | None:
    """HandshakeRefused when none of the CAs in the client's CA file issued the hub's
    certificate: then this side refused the hub, not the hub this client."""
    from cryptography import x509

    try:
        hub_cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    authorities = credentials.authorities()
    if any(_issued_by(hub_cert, ca) for ca in authorities):
        return None
    return HandshakeRefused(
        f"the hub at {address} is not trusted by your CA file {credentials.ca}: its "
        f"certificate {hub_cert.subject.rfc4514_string()!r} was issued by "
        f"{hub_cert.issuer.rfc4514_string()!r}, and the file holds "
        f"{', '.join(repr(ca.subject.rfc4514_string()) for ca in authorities)}"
        f"{_same_name(hub_cert.issuer, authorities)}; give the CA that issued the hub's "
        "certificate (a `tonglian pki init` folder's ca.crt)"
    )


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """Whether `ca` signed `cert` (not only whether the names match: two development
    CAs may share a name)."""
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _same_name(issuer: x509.Name, authorities: list[x509.Certificate]) -> str:
    if any(ca.subject == issuer for ca in authorities):
        return ": a different CA of the same name"
    return ""


def handshake_refused(address: str, credentials: Credentials | None, details: str) -> ClientError:
    """Something listens at `address` but no call got through: the likely cause, from the
    client's own certificate and CA (the hub cannot send its reason in a handshake)."""
    if credentials is None:
        return HandshakeRefused(
            f"the hub at {address} closed a plaintext connection: it serves mutual TLS; "
            "give a client certificate (TONGLIAN_CERT/TONGLIAN_KEY/TONGLIAN_CA; the CLI's "
            "--cert/--key/--ca, the SDK's Credentials)"
        )
    cert = credentials.check()
    who = cert.subject.rfc4514_string()
    authorities = credentials.authorities()
    if not any(_issued_by(cert, ca) for ca in authorities):
        return HandshakeRefused(
            f"the hub at {address} refused your certificate {who!r} ({credentials.cert}): "
            f"it was issued by {cert.issuer.rfc4514_string()!r}, not by the hub's CA in "
            f"{credentials.ca} ({', '.join(ca.subject.rfc4514_string() for ca in authorities)}"
            f"{_same_name(cert.issuer, authorities)}); ask the hub's operator for a "
            "certificate its CA issues"
        )
    return ClientError(
        grpc.StatusCode.UNAVAILABLE,
        f"UNAVAILABLE: {details} (the hub at {address} is up but refused the TLS "
        f"handshake with {who!r}: its client CA may not trust this certificate, "
        "or it serves plaintext (--insecure))",
    )
