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

from hub.audit.log import AuditLog
from hub.catalog.catalog import SchemaCatalog
from hub.config import HubSettings
from hub.errors import InvalidInput
from hub.gc_tuning import settle_for_serving
from hub.observability.interceptor import ObservingInterceptor
from hub.observability.tracing import endpoint_of, start_tracing, stop_tracing
from hub.predicate_budget import PredicateBudget
from hub.records import RecordReader
from hub.registry import ChainRegistry
from hub.relay.relay import Relay
from hub.router import Router
from hub.security import load_security
from hub.services.access import AccessInterceptor
from hub.services.audit import AuditService
from hub.services.chain_registry import ChainRegistryService
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
    health: health.HealthServicer
    relay: Relay
    audit: AuditLog | None = None
    anchorer: Anchorer | None = None
    http: HttpListener | None = None
    serving: bool = False

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
    start_tracing(endpoint_of(settings.otlp_endpoint))
    store = store_for(settings.store, settings.data_dir, settings.replica_id)
    await store.open()
    audit = AuditLog(store)
    router = Router(settings.adapter_timeout, settings.data_dir)
    verifier = Verifier(settings.verify_workers, settings.adapter_timeout)
    registry = ChainRegistry(store, router)
    reader = RecordReader(registry, router, verifier, security.signer)
    access = RecordAccess(reader, security.policy, catalog)
    operators = Operators(security.policy)

    limit = settings.max_message_bytes
    server = grpc.aio.server(
        interceptors=[
            ObservingInterceptor(),
            AccessInterceptor(security.authenticator, audit),
        ],
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
            ("grpc.so_reuseport", 0),
        ],
    )
    chains_pb2_grpc.add_ChainRegistryServicer_to_server(
        ChainRegistryService(Chains(registry, router, operators)), server
    )
    query_pb2_grpc.add_QueryServicer_to_server(
        QueryService(
            RecordQueries(access),
            RecordWatch(access),
            Predicates(access, security.signer, PredicateBudget(store)),
            RecordWrites(access, registry),
        ),
        server,
    )
    relay = Relay(store, registry, router, verifier, catalog, audit)
    relay_pb2_grpc.add_RelayServicer_to_server(RelayService(RelayAdmin(relay, operators)), server)
    audit_pb2_grpc.add_AuditServicer_to_server(
        AuditService(
            AuditReading(
                audit,
                operators,
                settings.audit_anchor_chain,
                settings.audit_anchor_namespace,
                reader,
            )
        ),
        server,
    )
    health_servicer = health.HealthServicer()
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
    if settings.http_listen:
        from hub.observability.http_listener import start_http
        from hub.observability.snapshot import HubState

        hub.http = await start_http(
            settings.http_listen,
            HubState(store, registry, router, relay, audit),
            lambda: hub.serving,
            f"{settings.listen.rpartition(':')[0]}:{port}",
            security.authenticator,
            security.policy,
            _tls_files(settings),
        )
    for name in (*SERVICE_NAMES, ""):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    hub.serving = True
    return hub


def _tls_files(settings: HubSettings) -> TlsFiles | None:
    if settings.insecure or not (settings.tls_cert and settings.tls_key and settings.client_ca):
        return None
    from hub.observability.http_listener import TlsFiles

    return TlsFiles(settings.tls_cert, settings.tls_key, settings.client_ca)


async def serve(settings: HubSettings, ready: asyncio.Event | None = None) -> None:
    """Runs the hub until SIGTERM or SIGINT, then drains in-flight calls and exits."""
    hub = await start_hub(settings)
    settle_for_serving()
    host = settings.listen.rpartition(":")[0]
    log.info("hub listening on %s:%d, data in %s", host, hub.port, settings.data_dir)
    if hub.http is not None:
        log.info("status page on %s/status, metrics on %s/metrics", hub.http.url, hub.http.url)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stopping.set)
    if ready is not None:
        ready.set()
    try:
        await stopping.wait()
        log.info("shutting down: finishing in-flight calls (up to %gs)", settings.shutdown_grace)
    finally:
        await hub.stop()
        log.info("hub stopped")
