"""The HTTP listener beside gRPC: /healthz, /metrics and /status.

Off unless `http_listen` is set; a bare port binds to loopback. Under mutual TLS
it serves HTTPS with the hub's certificate and asks for (without requiring) a
client certificate of the same CA: /healthz and /metrics need none, /status
answers 401 without one and 403 unless it names an operator the policy lets
operate. With --insecure everything is plaintext and open, like gRPC.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from prometheus_client import generate_latest

from hub.authentication import Authenticator
from hub.errors import HubError, InvalidInput
from hub.observability.metrics import CONTENT_TYPE, METRICS
from hub.observability.snapshot import HubState
from hub.observability.status_page import render
from hub.policy import PolicySource

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


def server_ssl(files: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
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
        authenticator: Authenticator | None,
        policy: PolicySource,
    ) -> None:
        self._state = state
        self._serving = serving
        self._grpc_listen = grpc_listen
        self._authenticator = authenticator
        self._policy = policy

    async def healthz(self, request: web.Request) -> web.Response:
        if self._serving():
            return web.Response(text="SERVING\n")
        return web.Response(status=503, text="NOT_SERVING\n")

    async def metrics(self, request: web.Request) -> web.Response:
        await self._state.export()
        return web.Response(
            body=generate_latest(METRICS.registry), headers={"Content-Type": CONTENT_TYPE}
        )

    def _refusal(self, request: web.Request) -> web.Response | None:
        """Why `request` may not see /status (401 or 403), or None when it may."""
        if self._authenticator is None:
            return None
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        if not der:
            return web.Response(
                status=401,
                text="the status page needs an operator client certificate (mutual TLS)\n",
            )
        pem = x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM)
        try:
            principal = self._authenticator.authenticate(pem)
        except HubError as exc:
            return web.Response(status=401, text=f"{exc}\n")
        if not principal.is_operator:
            return web.Response(
                status=403,
                text=f"the status page needs operator rights: {principal.name} has role "
                f"{principal.role}\n",
            )
        decision = self._policy.current().operator(principal.agency)
        if not decision.allowed:
            return web.Response(
                status=403, text=f"the status page needs operator rights: {decision.reason}\n"
            )
        return None

    async def status(self, request: web.Request) -> web.Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        snap = await self._state.take()
        return web.Response(
            text=render(snap, self._grpc_listen),
            content_type="text/html",
            charset="utf-8",
            headers={"Cache-Control": "no-store"},
        )


@dataclass
class HttpListener:
    runner: web.AppRunner
    state: HubState
    port: int
    scheme: str
    host: str

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    async def stop(self) -> None:
        await self.state.stop()
        await self.runner.cleanup()


async def start_http(
    listen: str,
    state: HubState,
    serving: Callable[[], bool],
    grpc_listen: str,
    authenticator: Authenticator | None,
    policy: PolicySource,
    tls: TlsFiles | None,
) -> HttpListener:
    """Starts serving the three pages and the chain-head watcher behind /status."""
    host, port = listen_address(listen)
    pages = Pages(state, serving, grpc_listen, authenticator, policy)
    app = web.Application()
    app.router.add_get("/healthz", pages.healthz)
    app.router.add_get("/metrics", pages.metrics)
    app.router.add_get("/status", pages.status)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=server_ssl(tls) if tls else None)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise InvalidInput(f"cannot listen for HTTP on {listen}: {exc.strerror}") from exc
    bound = port
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    if sockets:
        bound = int(sockets[0].getsockname()[1])
    state.start()
    return HttpListener(runner, state, bound, "https" if tls else "http", host)
