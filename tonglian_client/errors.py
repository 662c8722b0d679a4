"""The SDK's errors: each carries the gRPC status it stands for and a message to act on.

The SDK stands alone (it needs no hub installed), so these are its own classes;
the `tonglian` CLI maps their status to exit codes.
"""

from __future__ import annotations

import grpc


class ClientError(Exception):
    """A call failed; `status` is the gRPC status, the message says why."""

    def __init__(self, status: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.status = status


class CredentialsError(ClientError):
    """The client's own certificate, key or CA file is missing, unreadable or unusable."""

    def __init__(self, message: str) -> None:
        super().__init__(grpc.StatusCode.INVALID_ARGUMENT, message)


class HandshakeRefused(ClientError):
    """The hub refused the TLS handshake; the message says what about the certificate."""

    def __init__(self, message: str) -> None:
        super().__init__(grpc.StatusCode.UNAUTHENTICATED, message)


class CertificateUnusable(ClientError):
    """The client's certificate is expired or not yet valid: the hub would refuse it."""

    def __init__(self, message: str) -> None:
        super().__init__(grpc.StatusCode.UNAUTHENTICATED, message)
