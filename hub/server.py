"""The hub process: wires the store, router, verifier and services into one grpc.aio server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from hub import paging
from hub.access.limits import LimitSettings, PrincipalLimits
from hub.audit.log import AuditLog
from hub.catalog.catalog import SchemaCatalog
from hub.config import HubSettings
from hub.errors import InvalidInput
from hub.gc_tuning import settle_for_serving
from hub.lifeline import exit_after, exit_now
from hub.observability.interceptor import ObservingInterceptor
from hub.observability.tracing import endpoint_of, start_tracing, stop_tracing
from hub.predicate_budget import PredicateBudget
from hub.records import RecordReader
from hub.registry import ChainRegistry
from hub.relay.relay import Relay
from hub.router import Router
from hub.security import load_security
from hub.services.access import AccessInterceptor, receive_limit
from hub.services.audit import AuditService
from hub.services.chain_registry import ChainRegistryService
from hub.services.health import HubHealth
from hub.services.query import QueryService
from hub.services.relay import RelayService
from hub.store.base import Store
from hub.store.factory import store_for
from hub.usecases.audit_reading import AuditReading
from hub.usecases.authorization import Operators
from hub.usecases.chains import Chains
from hub.usecases.predicate import Predicates
from hub.usecases.query import RecordQueries
from hub.usecases.record_access import RecordAccess
from hub.usecases.relay_admin import RelayAdmin
from hub.usecases.watch import RecordWatch
from hub.usecases.write import RecordWrites
from hub.verification import Verifier
from tonglian.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    chains_pb2,
    chains_pb2_grpc,
    query_pb2,
    query_pb2_grpc,
    relay_pb2,
    relay_pb2_grpc,
)

if TYPE_CHECKING:
    # Imported where used: only hubs that anchor their audit log or serve HTTP pay for
    # them (aiohttp's server alone was a fifth of `tonglian serve`'s start).
    from hub.audit.anchoring import Anchorer
    from hub.observability.http_listener import HttpListener, TlsFiles

log = logging.getLogger("tonglian.hub")

# What a stop may take beyond `shutdown_grace` (closing the relay, the adapters, the
# verification pool and the store) before the process ends regardless.
STOP_BOUND = 3.0
# The exit code of a stop forced by a second signal or by STOP_BOUND passing.
EXIT_FORCED = 128 + signal.SIGTERM

SERVICE_NAMES = (
    chains_pb2.DESCRIPTOR.services_by_name["ChainRegistry"].full_name,
    query_pb2.DESCRIPTOR.services_by_name["Query"].full_name,
    relay_pb2.DESCRIPTOR.services_by_name["Relay"].full_name,
    audit_pb2.DESCRIPTOR.services_by_name["Audit"].full_name,
)


@dataclass
class Hub:
    """A running hub; `stop` shuts it down gracefully."""

    settings: HubSettings
    server: grpc.aio.Server
    port: int
    store: Store
    router: Router
    verifier: Verifier
    health: HubHealth
    relay: Relay
    audit: AuditLog | None = None
    anchorer: Anchorer | None = None
    http: HttpListener | None = None
    serving: bool = False
    # Shares this replica's revocations with the others through the store.
    revocations: asyncio.Task[None] | None = None

    async def stop(self, grace: float | None = None) -> None:
        self.serving = False
        for name in (*SERVICE_NAMES, ""):
            self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(self.settings.shutdown_grace if grace is None else grace)
        if self.http is not None:
            await self.http.stop()
        stop_tracing()
        if self.anchorer is not None:
            await self.anchorer.stop()
        await self.relay.stop()
        if self.revocations is not None:
            self.revocations.cancel()
            await asyncio.gather(self.revocations, return_exceptions=True)
        await self.router.close()
        await self.verifier.close_connections()
        self.verifier.close()
        await self.store.close()


async def start_hub(settings: HubSettings) -> Hub:
    """Opens the store and starts serving; the returned hub is SERVING."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    catalog = SchemaCatalog.load(settings.catalog_dir, strict=settings.catalog_strict)
    reloads: set[asyncio.Task[object]] = set()

    def audit_reload(what: str, error: str | None) -> None:
        task = asyncio.ensure_future(
            audit.append(
                principal="hub",
                action=f"{what.lower()}.reload",
                target=str(settings.policy_file),
                outcome="ok" if error is None else f"error: {error}",
            )
        )
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    security = load_security(settings, audit_reload)
    paging.use_token_key(security.signer.key)
    start_tracing(endpoint_of(settings.otlp_endpoint))
    store = store_for(settings.store, settings.data_dir, settings.replica_id)
    await store.open()
    audit = AuditLog(store)
    router = Router(settings.adapter_timeout, settings.data_dir, tuple(settings.secret_env))
    verifier = Verifier(settings.verify_workers, settings.adapter_timeout)
    registry = ChainRegistry(store, router)
    registry.on_forget(verifier.forget)
    reader = RecordReader(registry, router, verifier, security.signer)
    access = RecordAccess(reader, security.policy, catalog)
    operators = Operators(security.policy)

    limit = settings.max_message_bytes
    # The HTTP/JSON gateway runs its calls through these same interceptors.
    interceptors = [
        ObservingInterceptor(),
        AccessInterceptor(security.authenticator, audit, _limits(settings), limit),
    ]
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", receive_limit(limit)),
            ("grpc.max_send_message_length", limit),
            ("grpc.so_reuseport", 0),
        ],
    )
    chains_pb2_grpc.add_ChainRegistryServicer_to_server(
        ChainRegistryService(Chains(registry, router, operators)), server
    )
    query_service = QueryService(
        RecordQueries(access),
        RecordWatch(access),
        Predicates(access, security.signer, PredicateBudget(store)),
        RecordWrites(access, registry),
    )
    query_pb2_grpc.add_QueryServicer_to_server(query_service, server)
    relay = Relay(store, registry, router, verifier, catalog, audit)
    relay_admin = RelayAdmin(relay, operators)
    relay_pb2_grpc.add_RelayServicer_to_server(RelayService(relay_admin), server)
    audit_reading = AuditReading(
        audit,
        operators,
        settings.audit_anchor_chain,
        settings.audit_anchor_namespace,
        reader,
    )
    audit_pb2_grpc.add_AuditServicer_to_server(AuditService(audit_reading), server)
    health_servicer = HubHealth()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    try:
        if security.credentials is None:
            port = server.add_insecure_port(settings.listen)
        else:
            port = server.add_secure_port(settings.listen, security.credentials)
    except RuntimeError as exc:
        await store.close()
        verifier.close()
        raise InvalidInput(f"cannot listen on {settings.listen}: {exc}") from exc
    if port == 0:
        await store.close()
        verifier.close()
        raise InvalidInput(f"cannot listen on {settings.listen}: address in use or not local")
    revocations = None
    if security.authenticator is not None:
        # Before the first call: what another replica revoked is refused here too.
        revocations = asyncio.create_task(
            security.authenticator.share_through(store), name="revocations"
        )
        await security.authenticator.shared_once()
    await server.start()
    await relay.start()
    anchorer = None
    if settings.audit_anchor_chain:
        from hub.audit.anchoring import Anchorer

        anchorer = Anchorer(
            audit,
            registry,
            router,
            reader,
            chain_id=settings.audit_anchor_chain,
            namespace=settings.audit_anchor_namespace,
            interval=settings.audit_anchor_interval,
            every=settings.audit_anchor_every,
        )
        anchorer.start()
    await audit.append(
        principal="hub",
        action="hub.start",
        target=f"{settings.listen}",
        detail={
            "tls": security.credentials is not None,
            "schemas": catalog.names(),
            "replica": settings.replica_id,
        },
    )
    hub = Hub(
        settings, server, port, store, router, verifier, health_servicer, relay, audit, anchorer
    )
    hub.revocations = revocations
    if settings.http_listen:
        from hub.observability.http_listener import start_http
        from hub.observability.listener_access import ListenerAccess
        from hub.observability.operator_view import OperatorView
        from hub.observability.snapshot import HubState
        from hub.services.gateway.app import Gateway
        from hub.services.gateway.bindings import bindings
        from hub.services.gateway.openapi import served_services

        tls = _tls_files(settings)
        listener_access = ListenerAccess(security.authenticator, audit, settings.client_ca)
        gateway = Gateway(
            {"tonglian.v1.Query": query_service},
            interceptors,
            bindings(served_services()),
            audit,
            listener_access,
            secure=tls is not None,
            max_message_bytes=limit,
        )

        hub.http = await start_http(
            settings.http_listen,
            HubState(store, registry, router, relay, audit),
            lambda: hub.serving,
            f"{settings.listen.rpartition(':')[0]}:{port}",
            listener_access,
            OperatorView(operators, relay_admin, audit_reading),
            tls,
            gateway,
        )
    for name in (*SERVICE_NAMES, ""):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    hub.serving = True
    return hub


def _limits(settings: HubSettings) -> PrincipalLimits:
    """The per-principal limits the access interceptor enforces, from the settings."""
    names = LimitSettings.__dataclass_fields__
    return PrincipalLimits(LimitSettings(**{name: getattr(settings, name) for name in names}))


def _tls_files(settings: HubSettings) -> TlsFiles | None:
    if settings.insecure or not (settings.tls_cert and settings.tls_key and settings.client_ca):
        return None
    from hub.observability.http_listener import TlsFiles

    return TlsFiles(settings.tls_cert, settings.tls_key, settings.client_ca)


async def serve(settings: HubSettings, ready: asyncio.Event | None = None) -> None:
    """Runs the hub until SIGTERM or SIGINT, then drains in-flight calls and exits.

    The process ends within `shutdown_grace` + STOP_BOUND of the signal, every time:
    in-flight calls get the grace, closing the rest gets STOP_BOUND, and past that the
    process exits with EXIT_FORCED (lifeline.exit_after). A second signal exits at once
    with EXIT_FORCED.
    """
    hub = await start_hub(settings)
    settle_for_serving()
    host = settings.listen.rpartition(":")[0]
    log.info("hub listening on %s:%d, data in %s", host, hub.port, settings.data_dir)
    if hub.http is not None:
        log.info("status page on %s/status, metrics on %s/metrics", hub.http.url, hub.http.url)
    stopping = asyncio.Event()

    def on_signal() -> None:
        if stopping.is_set():
            exit_now(EXIT_FORCED, "second signal: exiting now, in-flight calls are dropped")
        stopping.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)
    if ready is not None:
        ready.set()
    try:
        await stopping.wait()
        log.info(
            "shutting down: finishing in-flight calls (up to %gs), then closing (up to %gs)",
            settings.shutdown_grace,
            STOP_BOUND,
        )
    finally:
        # Armed until the process is gone: what runs after this function (asyncio.run's
        # clean-up, the interpreter joining threads at exit) is bounded too.
        exit_after(settings.shutdown_grace + STOP_BOUND, EXIT_FORCED, "the hub's stop")
        await hub.stop()
        log.info("hub stopped")
