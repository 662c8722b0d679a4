"""The SDK's errors: one class per family of `ErrorInfo` reasons the hub sends.

Every error the hub sends carries a `google.rpc.ErrorInfo` whose `reason` names an
ErrorReason of proto/tonglian/v1/errors.proto; `REASONS` maps each to the class
raised here, so callers (and the `tonglian` CLI's exit codes) decide by class or
by `reason`, never by message text. Each error keeps the gRPC `status`, the
`reason` ("" when the failure did not come from the hub) and the `metadata`.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc


class ClientError(Exception):
    """A call failed; `status` is the gRPC status, `reason` the hub's ErrorInfo reason."""

    def __init__(
        self,
        status: grpc.StatusCode,
        message: str,
        reason: str = "",
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.metadata: dict[str, str] = dict(metadata or {})


class InvalidRequest(ClientError):
    """The request (or proof material in it) is malformed: INVALID_REQUEST, MALFORMED_INPUT."""


class CredentialsError(InvalidRequest):
    """The client's own certificate, key or CA file is missing, unreadable or unusable."""

    def __init__(self, message: str) -> None:
        super().__init__(grpc.StatusCode.INVALID_ARGUMENT, message)


class NotFound(ClientError):
    """NOT_FOUND: the id names nothing the hub knows."""


class AlreadyExists(ClientError):
    """ALREADY_EXISTS: a registration under an id that is taken."""


class PolicyDenied(ClientError):
    """POLICY_DENIED: the caller's policy or operator rights refuse the call;
    `metadata["rule"]` names the deciding rule when one did."""


class Unauthenticated(ClientError):
    """UNAUTHENTICATED: the hub does not accept the caller's certificate."""


class HandshakeRefused(Unauthenticated):
    """The hub refused the TLS handshake; the message says what about the certificate."""

    def __init__(self, message: str) -> None:
        super().__init__(grpc.StatusCode.UNAUTHENTICATED, message)


class CertificateUnusable(Unauthenticated):
    """The client's certificate is expired or not yet valid: the hub would refuse it."""

    def __init__(self, message: str) -> None:
        super().__init__(grpc.StatusCode.UNAUTHENTICATED, message)


class ProofFailed(ClientError):
    """PROOF_REJECTED, NOT_ANCHORED, PROOF_ERROR: a proof does not verify, or nothing
    trusted vouches for it. Retrying will not fix it."""


class SchemaViolation(ClientError):
    """SCHEMA_VIOLATION: a record's value does not conform to its catalog schema."""


class AuditTampered(ClientError):
    """AUDIT_TAMPERED: the audit log fails its hash chain."""


class ChainUnavailable(ClientError):
    """CHAIN_UNAVAILABLE: the hub answers, but a chain it needs does not (`metadata["chain_id"]`).
    Retrying later may work."""


class HubUnreachable(ClientError):
    """No hub answers at the address (nothing listens there): not a hub's answer at all."""

    def __init__(self, address: str) -> None:
        super().__init__(grpc.StatusCode.UNAVAILABLE, f"no hub answers at {address}")
        self.address = address


class HubUnavailable(ClientError):
    """STORE_UNAVAILABLE: the hub answers but its database does not (a restart or
    failover under way); it reconnects by itself, so retrying later works."""


class ChainFault(ClientError):
    """ADAPTER_MISBEHAVED, CHAIN_MISCONFIGURED: a chain's adapter or its registration is
    at fault; an operator must fix it."""


class FailedPrecondition(ClientError):
    """FAILED_PRECONDITION: the hub's state does not allow the call (e.g. no signing key)."""


class WatchOverflow(ClientError):
    """WATCH_OVERFLOW: the watcher fell too far behind and was dropped; reconnect."""


class LimitExceeded(ClientError):
    """LIMIT_EXCEEDED: this caller is past one of the hub's limits (open streams, concurrent
    calls); close some streams or wait, or ask the hub's operator to raise the limit."""


class HubInternal(ClientError):
    """INTERNAL: the hub failed unexpectedly and logged the details."""


# Every ErrorReason of proto/tonglian/v1/errors.proto, as sent in ErrorInfo.reason.
REASONS: dict[str, type[ClientError]] = {
    "INVALID_REQUEST": InvalidRequest,
    "MALFORMED_INPUT": InvalidRequest,
    "NOT_FOUND": NotFound,
    "ALREADY_EXISTS": AlreadyExists,
    "POLICY_DENIED": PolicyDenied,
    "UNAUTHENTICATED": Unauthenticated,
    "PROOF_REJECTED": ProofFailed,
    "DELIVERY_REFUSED": FailedPrecondition,
    "STORE_UNAVAILABLE": HubUnavailable,
    "LEASE_LOST": FailedPrecondition,
    "NOT_ANCHORED": ProofFailed,
    "PROOF_ERROR": ProofFailed,
    "SCHEMA_VIOLATION": SchemaViolation,
    "AUDIT_TAMPERED": AuditTampered,
    "CHAIN_UNAVAILABLE": ChainUnavailable,
    "ADAPTER_MISBEHAVED": ChainFault,
    "CHAIN_MISCONFIGURED": ChainFault,
    "FAILED_PRECONDITION": FailedPrecondition,
    "WATCH_OVERFLOW": WatchOverflow,
    "LIMIT_EXCEEDED": LimitExceeded,
    "INTERNAL": HubInternal,
}
DOMAIN = "tonglian.v1"


def error_for(
    status: grpc.StatusCode, message: str, reason: str, metadata: Mapping[str, str] | None = None
) -> ClientError:
    """The exception for a hub's answer of `reason` (a plain ClientError for an unknown one)."""
    kind = REASONS.get(reason, ClientError)
    return kind(status, message, reason, metadata)
