"""The reason vocabulary is one: hub errors, proof-core errors, the proto's ErrorReason and
the SDK's classes agree; each reason on the wire becomes its SDK class and CLI exit code."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from hub import errors as hub_errors
from hub.cli import exit_codes
from hub.services.status import DETAILS_KEY, rich_status
from tonglian.v1 import errors_pb2
from tonglian_client import errors as sdk
from tonglian_client.channel import error_from, error_info
from tonglian_proof import errors as proof_errors

PROTO_REASONS = {
    name.removeprefix("ERROR_REASON_")
    for name in errors_pb2.ErrorReason.keys()
    if name != "ERROR_REASON_UNSPECIFIED"
}

# reason, the status the hub sends it with, the SDK class, the CLI's exit code
TABLE: list[tuple[str, grpc.StatusCode, type[sdk.ClientError], int]] = [
    ("INVALID_REQUEST", grpc.StatusCode.INVALID_ARGUMENT, sdk.InvalidRequest, exit_codes.USAGE),
    ("MALFORMED_INPUT", grpc.StatusCode.INVALID_ARGUMENT, sdk.InvalidRequest, exit_codes.USAGE),
    ("NOT_FOUND", grpc.StatusCode.NOT_FOUND, sdk.NotFound, exit_codes.NOT_FOUND),
    ("ALREADY_EXISTS", grpc.StatusCode.ALREADY_EXISTS, sdk.AlreadyExists, exit_codes.CONFLICT),
    ("POLICY_DENIED", grpc.StatusCode.PERMISSION_DENIED, sdk.PolicyDenied, exit_codes.DENIED),
    ("UNAUTHENTICATED", grpc.StatusCode.UNAUTHENTICATED, sdk.Unauthenticated, exit_codes.DENIED),
    ("PROOF_REJECTED", grpc.StatusCode.FAILED_PRECONDITION, sdk.ProofFailed, exit_codes.FAILED),
    ("NOT_ANCHORED", grpc.StatusCode.FAILED_PRECONDITION, sdk.ProofFailed, exit_codes.FAILED),
    ("PROOF_ERROR", grpc.StatusCode.FAILED_PRECONDITION, sdk.ProofFailed, exit_codes.FAILED),
    (
        "SCHEMA_VIOLATION",
        grpc.StatusCode.FAILED_PRECONDITION,
        sdk.SchemaViolation,
        exit_codes.FAILED,
    ),
    ("AUDIT_TAMPERED", grpc.StatusCode.DATA_LOSS, sdk.AuditTampered, exit_codes.FAILED),
    (
        "CHAIN_UNAVAILABLE",
        grpc.StatusCode.UNAVAILABLE,
        sdk.ChainUnavailable,
        exit_codes.UNAVAILABLE,
    ),
    ("ADAPTER_MISBEHAVED", grpc.StatusCode.FAILED_PRECONDITION, sdk.ChainFault, exit_codes.FAILED),
    (
        "STORE_UNAVAILABLE",
        grpc.StatusCode.UNAVAILABLE,
        sdk.HubUnavailable,
        exit_codes.UNAVAILABLE,
    ),
    ("LEASE_LOST", grpc.StatusCode.ABORTED, sdk.FailedPrecondition, exit_codes.FAILED),
    (
        "DELIVERY_REFUSED",
        grpc.StatusCode.FAILED_PRECONDITION,
        sdk.FailedPrecondition,
        exit_codes.FAILED,
    ),
    ("CHAIN_MISCONFIGURED", grpc.StatusCode.FAILED_PRECONDITION, sdk.ChainFault, exit_codes.FAILED),
    (
        "FAILED_PRECONDITION",
        grpc.StatusCode.FAILED_PRECONDITION,
        sdk.FailedPrecondition,
        exit_codes.FAILED,
    ),
    (
        "WATCH_OVERFLOW",
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        sdk.WatchOverflow,
        exit_codes.UNAVAILABLE,
    ),
    (
        "LIMIT_EXCEEDED",
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        sdk.LimitExceeded,
        exit_codes.UNAVAILABLE,
    ),
    ("INTERNAL", grpc.StatusCode.INTERNAL, sdk.HubInternal, exit_codes.INTERNAL),
]


class FailedCall(grpc.RpcError):
    """What grpc raises for a failed call: code, details and trailing metadata."""

    def __init__(self, code: grpc.StatusCode, details: str, trailers: Any = ()) -> None:
        self._code, self._details, self._trailers = code, details, trailers

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Any:
        return self._trailers


def _hub_error_classes() -> list[type[hub_errors.HubError]]:
    found: list[type[hub_errors.HubError]] = []
    pending: list[type[hub_errors.HubError]] = [hub_errors.HubError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return [c for c in found if c.__module__ == "hub.errors"]


def test_the_table_covers_the_proto_vocabulary_once() -> None:
    assert sorted(r for r, *_ in TABLE) == sorted(PROTO_REASONS)
    assert set(sdk.REASONS) == PROTO_REASONS


def test_every_hub_and_proof_error_sends_a_reason_of_the_proto() -> None:
    statuses = {reason: status for reason, status, *_ in TABLE}
    for cls in _hub_error_classes():
        assert cls.reason in PROTO_REASONS, cls
        assert statuses[cls.reason] == cls.status, cls
    for proof_cls in (
        proof_errors.ProofError,
        proof_errors.MalformedInput,
        proof_errors.ProofRejected,
        proof_errors.NotAnchored,
    ):
        failure = hub_errors.failure_of(proof_cls("x"))
        assert failure is not None
        assert failure.reason == proof_cls.reason_code
        assert statuses[failure.reason] == failure.status


def test_metadata_travels_and_empty_values_are_left_out() -> None:
    exc = hub_errors.ChainUnreachable("chain 'c' is unreachable", chain_id="c", rule="")
    assert hub_errors.failure_of(exc) == hub_errors.Failure(
        grpc.StatusCode.UNAVAILABLE, "CHAIN_UNAVAILABLE", {"chain_id": "c"}
    )
    assert hub_errors.failure_of(ValueError("unexpected")) is None


@pytest.mark.parametrize(("reason", "status", "cls", "exit_code"), TABLE)
async def test_each_reason_becomes_its_class_and_exit_code(
    reason: str, status: grpc.StatusCode, cls: type[sdk.ClientError], exit_code: int
) -> None:
    trailers = rich_status(status, "why", reason, {"chain_id": "c-1"})
    err = await error_from(FailedCall(status, "why", trailers), "127.0.0.1:1", None)
    assert type(err) is cls
    assert (err.status, err.reason, err.metadata) == (status, reason, {"chain_id": "c-1"})
    assert str(err) == f"{status.name}: why"
    assert exit_codes.for_error(err) == exit_code


async def test_a_status_without_error_info_is_not_guessed_from_its_text() -> None:
    # "connect" in the text once meant "no hub"; now only a hub's ErrorInfo says anything.
    call = FailedCall(grpc.StatusCode.DEADLINE_EXCEEDED, "failed to connect to all addresses")
    err = await error_from(call, "127.0.0.1:1", None)
    assert type(err) is sdk.ClientError and err.reason == ""
    assert exit_codes.for_error(err) == exit_codes.UNAVAILABLE
    # UNAVAILABLE with nothing listening at the address: no hub.
    call = FailedCall(grpc.StatusCode.UNAVAILABLE, "whatever the transport said")
    err = await error_from(call, "127.0.0.1:1", None)
    assert type(err) is sdk.HubUnreachable
    assert exit_codes.for_error(err) == exit_codes.UNAVAILABLE


def test_error_info_of_another_domain_is_ignored() -> None:
    info = error_details_pb2.ErrorInfo(reason="NOT_FOUND", domain="example.com")
    status = status_pb2.Status(code=5, message="x")
    status.details.add().Pack(info)
    call = FailedCall(grpc.StatusCode.NOT_FOUND, "x", ((DETAILS_KEY, status.SerializeToString()),))
    assert error_info(call) is None
