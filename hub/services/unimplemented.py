"""Servicers for services of the published schema that this hub does not run yet.

Registering them keeps reflection truthful and answers each call with
UNIMPLEMENTED and a message naming the method, instead of a bare
"Method not found".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor

from hub.errors import Unimplemented
from hub.services.status import Context


def unimplemented_servicer(base: type, service: ServiceDescriptor) -> Any:
    """An instance of `base` whose every method answers UNIMPLEMENTED."""

    def make(name: str, server_streaming: bool) -> Callable[..., Any]:
        if server_streaming:

            async def stream(self: Any, request: Any, context: Context) -> Any:
                await context.abort(grpc.StatusCode.UNIMPLEMENTED, str(Unimplemented(name)))
                yield  # pragma: no cover - makes this an async generator

            return stream

        async def unary(self: Any, request: Any, context: Context) -> Any:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, str(Unimplemented(name)))

        return unary

    methods = {
        m.name: make(f"{service.full_name}.{m.name}", m.server_streaming) for m in service.methods
    }
    return type(f"Unimplemented{service.name}", (base,), methods)()
