"""The HTTP listener beside gRPC: /healthz, /metrics, /status, and the HTTP/JSON gateway.

Off unless `http_listen` is set; a bare port binds to loopback. Under mutual TLS it
serves HTTPS with the hub's certificate and asks for (without requiring) a client
certificate of the same CA: who may see what is hub/observability/listener_access.py's
(the certificate) and hub/observability/operator_view.py's (the operator use cases).
/metrics needs an operator whose rule covers every chain, /status shows an operator
what its scope covers, /healthz tells anyone whether the hub serves. With --insecure
everything is plaintext and open, like gRPC, and the metrics name no caller anyway.
Every connection is bounded in time and number (hub/observability/connection_guard.py).
The gateway (hub/services/gateway/) adds the agency calls and /openapi.json.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import generate_latest

from hub.errors import InvalidInput, PermissionDenied
from hub.observability.connection_guard import HEADER_TIMEOUT, ConnectionGuard
from hub.observability.listener_access import ListenerAccess
from hub.observability.metrics import CONTENT_TYPE, METRICS
from hub.observability.operator_view import OperatorView
from hub.observability.snapshot import HubState
from hub.observability.status_page import render

if TYPE_CHECKING:
    from hub.services.gateway.app import Gateway

LOOPBACK = "127.0.0.1"


def listen_address(value: str) -> tuple[str, int]:
    """`HOST:PORT` or a bare `PORT` (loopback) as (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = LOOPBACK, value
    if not port.isdigit() or not 0 <= int(port) < 65536 or (sep and not host):
        raise InvalidInput(f"http_listen must be HOST:PORT or PORT, got {value!r}")
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    client_ca: Path


# OpenSSL's X509_V_FLAG_NO_CHECK_TIME (not named by the ssl module): the handshake leaves
# certificate dates to hub/observability/listener_access.py, which answers 401 with the
# date instead of dropping the connection without a word.
NO_CHECK_TIME = 0x200000


def server_ssl(files: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.verify_flags |= NO_CHECK_TIME
    try:
        context.load_cert_chain(files.cert, files.key)
        context.load_verify_locations(files.client_ca)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidInput(f"cannot serve HTTPS with {files.cert}: {exc}") from exc
    context.verify_mode = ssl.CERT_OPTIONAL
    return context


class Pages:
    def __init__(
        self,
        state: HubState,
        serving: Callable[[], bool],
        grpc_listen: str,
        access: ListenerAccess,
        view: OperatorView,
    ) -> None:
        self._state = state
        self._serving = serving
        self._grpc_listen = grpc_listen
        self._access = access
        self._view = view

    async def healthz(self, request: web.Request) -> web.Response:
        """Open to load balancers without a certificate: it tells only whether the hub
        serves. A certificate, when presented, must still authenticate."""
        await self._access.caller(request, "listener.healthz", required=False)
        if self._serving():
            return web.Response(text="SERVING\n")
        return web.Response(status=503, text="NOT_SERVING\n")

    async def metrics(self, request: web.Request) -> web.Response:
        action = "listener.get_metrics"
        principal = await self._access.caller(request, action, required=True)
        if principal is not None:
            record = self._access.record(principal, action, request)
            try:
                self._view.may_scrape(principal, record)
            except PermissionDenied as exc:
                await self._access.refuse(record, exc)
        await self._state.export()
        return web.Response(
            body=generate_latest(METRICS.registry), headers={"Content-Type": CONTENT_TYPE}
        )

    async def status(self, request: web.Request) -> web.Response:
        action = "listener.get_status"
        principal = await self._access.caller(request, action, required=True)
        visible = None
        if principal is not None:
            record = self._access.record(principal, action, request)
            try:
                visible = await self._view.visible(principal, record)
            except PermissionDenied as exc:
                await self._access.refuse(record, exc)
        snap = await self._state.take(visible)
        return web.Response(
            text=render(snap, self._grpc_listen),
            content_type="text/html",
            charset="utf-8",
            headers={"Cache-Control": "no-store"},
        )


@dataclass
class HttpListener:
    runner: web.AppRunner
    server: asyncio.AbstractServer
    guard: ConnectionGuard
    state: HubState
    port: int
    scheme: str
    host: str

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    async def stop(self) -> None:
        await self.state.stop()
        self.server.close()
        await self.runner.cleanup()


async def start_http(
    listen: str,
    state: HubState,
    serving: Callable[[], bool],
    grpc_listen: str,
    access: ListenerAccess,
    view: OperatorView,
    tls: TlsFiles | None,
    gateway: Gateway | None = None,
) -> HttpListener:
    """Starts serving the three pages (and the gateway's routes, when given) and the
    chain-head watcher behind /status."""
    host, port = listen_address(listen)
    pages = Pages(state, serving, grpc_listen, access, view)
    app = web.Application(client_max_size=gateway.body_limit if gateway else 1024**2)
    app.router.add_get("/healthz", pages.healthz)
    app.router.add_get("/metrics", pages.metrics)
    app.router.add_get("/status", pages.status)
    if gateway is not None:
        await gateway.add_routes(app)
    # An idle kept-alive connection is closed as soon as a slow request head would be.
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=HEADER_TIMEOUT)
    await runner.setup()
    assert runner.server is not None
    guard = ConnectionGuard()
    context = server_ssl(tls) if tls else None
    try:
        server = await asyncio.get_running_loop().create_server(
            guard.factory(runner.server),
            host,
            port,
            ssl=context,
            ssl_handshake_timeout=HEADER_TIMEOUT if context else None,
        )
    except OSError as exc:
        await runner.cleanup()
        raise InvalidInput(f"cannot listen for HTTP on {listen}: {exc.strerror}") from exc
    bound = int(server.sockets[0].getsockname()[1]) if server.sockets else port
    state.start()
    return HttpListener(runner, server, guard, state, bound, "https" if tls else "http", host)
