"""A gRPC status as the gateway's JSON error and HTTP status.

The body is the google.rpc.Status the gRPC call would carry in its
`grpc-status-details-bin` trailer, in its JSON form, with the code's name beside its
number: {"error": {"code": 7, "status": "PERMISSION_DENIED", "message": "...",
"details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": ...}]}}.
The HTTP status follows google.rpc.Code's mapping, except FAILED_PRECONDITION -> 412
(the record or chain is not in the state the call needs, e.g. not anchored).
"""

from __future__ import annotations

import json
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from google.rpc import error_details_pb2, status_pb2

from hub.services.gateway.calls import Aborted
from hub.services.status import DETAILS_KEY, rich_status

HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 412,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}

# Imported for its registration: MessageToDict renders the ErrorInfo inside Any.
_ = error_details_pb2.ErrorInfo


def _status(aborted: Aborted) -> status_pb2.Status:
    for key, value in aborted.trailers:
        if key == DETAILS_KEY:
            return status_pb2.Status.FromString(value)
    # Every hub abort carries one (hub/services/status.py); gRPC's own would not.
    return status_pb2.Status.FromString(
        dict(rich_status(aborted.code, aborted.details, aborted.code.name))[DETAILS_KEY]
    )


def error_body(aborted: Aborted) -> dict[str, Any]:
    status = MessageToDict(_status(aborted), preserving_proto_field_name=True)
    return {
        "error": {
            "code": aborted.code.value[0],
            "status": aborted.code.name,
            "message": aborted.details,
            "details": status.get("details", []),
        }
    }


def http_status(code: grpc.StatusCode) -> int:
    return HTTP_STATUS.get(code, 500)


def error_json(aborted: Aborted) -> str:
    return json.dumps(error_body(aborted), ensure_ascii=False)
