"""An error answer whose audit event cannot be written (the store is down) is answered
with the store's UNAVAILABLE, never as an unexpected exception (UNKNOWN)."""

from __future__ import annotations

from typing import Any, cast

import grpc
import pytest

from hub.audit.call import AuditedCall, enter_call
from hub.audit.log import AuditLog
from hub.errors import NotFound, StoreUnavailable
from hub.principal import INSECURE
from hub.services.status import abort_for


class DownLog:
    async def append(self, **_event: Any) -> None:
        raise StoreUnavailable("the hub's PostgreSQL store cannot be reached; try again")


class Context:
    def __init__(self) -> None:
        self.aborted: tuple[grpc.StatusCode, str] | None = None

    async def abort(self, code: grpc.StatusCode, message: str, _trailers: object) -> None:
        self.aborted = (code, message)
        raise grpc.aio.AbortError()


async def test_unwritable_audit_event_answers_unavailable() -> None:
    enter_call(AuditedCall(INSECURE, "relay.GetRoute", cast(AuditLog, DownLog())))
    context = Context()
    with pytest.raises(grpc.aio.AbortError):
        await abort_for(NotFound("route lic not found"), abort_for, cast(Any, context))
    assert context.aborted == (
        grpc.StatusCode.UNAVAILABLE,
        "the hub's PostgreSQL store cannot be reached; try again",
    )
