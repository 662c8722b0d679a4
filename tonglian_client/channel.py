"""The one module that opens gRPC channels to a hub, and explains refused handshakes.

A TLS handshake the hub refuses surfaces in gRPC as UNAVAILABLE with a terse
SSL alert. `explain` turns it into a HandshakeRefused naming the likely cause,
found by looking at the client's own certificate and CA.
"""

from __future__ import annotations

import grpc

from tonglian_client.credentials import Credentials
from tonglian_client.errors import ClientError, HandshakeRefused

MAX_MESSAGE = 64 * 1024 * 1024
OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
]
# gRPC reports a handshake the hub refused as a closed socket, without the reason.
_CLOSED_HINTS = ("socket closed", "handshake", "ssl", "connection reset")


def open_channel(address: str, credentials: Credentials | None) -> grpc.aio.Channel:
    """An asyncio channel: mutual TLS with `credentials`; plaintext when None (--insecure hub)."""
    if credentials is None:
        return grpc.aio.insecure_channel(address, options=OPTIONS)
    return grpc.aio.secure_channel(address, credentials.channel_credentials(), options=OPTIONS)


def open_sync_channel(address: str, credentials: Credentials | None) -> grpc.Channel:
    if credentials is None:
        return grpc.insecure_channel(address, options=OPTIONS)
    return grpc.secure_channel(address, credentials.channel_credentials(), options=OPTIONS)


def is_handshake_failure(exc: grpc.RpcError) -> bool:
    code = exc.code()
    details = str(exc.details() or "").lower()
    return code == grpc.StatusCode.UNAVAILABLE and any(h in details for h in _CLOSED_HINTS)


def explain(exc: grpc.RpcError, address: str, credentials: Credentials | None) -> ClientError:
    """A typed error for a failed call; a connection closed in the handshake gets a diagnosis
    from the client's own certificate and CA (the hub cannot send its reason)."""
    code: grpc.StatusCode = exc.code()
    details = str(exc.details() or "")
    if not is_handshake_failure(exc):
        return ClientError(code, f"{code.name}: {details}")
    if credentials is None:
        return HandshakeRefused(
            f"the hub at {address} closed a plaintext connection: it serves mutual TLS; "
            "give --cert/--key/--ca or TONGLIAN_CERT/TONGLIAN_KEY/TONGLIAN_CA"
        )
    cert = credentials.check()
    who = cert.subject.rfc4514_string()
    authorities = credentials.authorities()
    if not any(ca.subject == cert.issuer for ca in authorities):
        return HandshakeRefused(
            f"the hub at {address} refused client certificate {who!r}: it was issued by "
            f"{cert.issuer.rfc4514_string()!r}, not by the hub's CA "
            f"({', '.join(ca.subject.rfc4514_string() for ca in authorities)})"
        )
    return ClientError(
        code,
        f"UNAVAILABLE: {details} (if the hub at {address} is up, it refused the TLS "
        f"handshake with {who!r}: its client CA may not trust this certificate)",
    )
