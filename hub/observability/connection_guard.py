"""Bounds what a connection to the HTTP listener may hold: time to send a request head,
and how many connections are open at once.

A client that trickles a request head a byte at a time (slowloris) would otherwise keep
its socket, and with enough of them every socket the hub may open. Each connection here
must send a whole request head (up to the blank line) within HEADER_TIMEOUT of opening,
of the end of its TLS handshake or of the first byte of its next request; the TLS
handshake itself gets HEADER_TIMEOUT too. At most MAX_CONNECTIONS are open: one more
closes the oldest still waiting for its request head (a slow or idle one, rarely a
request being answered), so a flood delays a scraper by one round trip, not a timeout.
A body (the HTTP/JSON gateway's PUT and POST) is bounded like a head: when a head
announces a Content-Length, that many bytes must follow within HEADER_TIMEOUT, and then
no deadline runs until the next request's first byte, however long the answer takes (a
write waiting for its block). A chunked body counts as part of its head (it ends with
the same blank line).

It sits between the transport and aiohttp's protocol and only watches the bytes: what
it lets through reaches aiohttp unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

from hub.observability.metrics import METRICS, HubMetrics

log = logging.getLogger("tonglian.hub")

# Seconds a connection may take to send a whole request head (and to finish its TLS
# handshake); also how long an idle kept-alive connection stays open.
HEADER_TIMEOUT = 10.0
MAX_CONNECTIONS = 64
END_OF_HEAD = b"\r\n\r\n"
# A head longer than this is refused by aiohttp anyway; only its Content-Length matters.
MAX_HEAD_KEPT = 64 * 1024
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length[ \t]*:[ \t]*(\d{1,12})[ \t]*(?=\r\n|$)", re.I)


class ConnectionGuard:
    """The open connections of one listener, oldest first."""

    def __init__(
        self,
        header_timeout: float = HEADER_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
        metrics: HubMetrics = METRICS,
    ) -> None:
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.metrics = metrics
        # Insertion order is opening order: the first one waiting is the one to evict.
        self._open: dict[GuardedConnection, None] = {}

    def factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], GuardedConnection]:
        """A protocol factory for `loop.create_server` wrapping aiohttp's."""
        return lambda: GuardedConnection(inner(), self)

    @property
    def open(self) -> int:
        return len(self._open)

    def admit(self, conn: GuardedConnection) -> None:
        if len(self._open) >= self.max_connections:
            waiting = [c for c in self._open if c.awaiting_head]
            oldest = waiting[0] if waiting else next(iter(self._open))
            self.metrics.http_connections_cut.labels(reason="too_many").inc()
            oldest.cut(f"the listener holds its maximum of {self.max_connections} connections")
        self._open[conn] = None

    def release(self, conn: GuardedConnection) -> None:
        self._open.pop(conn, None)


class GuardedConnection(asyncio.Protocol):
    """One connection: forwards everything to aiohttp's protocol, and closes the
    connection when its request head is late."""

    def __init__(self, inner: asyncio.Protocol, guard: ConnectionGuard) -> None:
        self._inner = inner
        self._guard = guard
        self._transport: asyncio.Transport | None = None
        self._deadline: asyncio.TimerHandle | None = None
        # The head so far (up to MAX_HEAD_KEPT), so its end split across reads is still
        # found and its Content-Length read.
        self._head = bytearray()
        # Bytes of the current request's body still to come.
        self._body_left = 0
        self.awaiting_head = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._guard.admit(self)
        self._arm()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._watch(data)
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._guard.release(self)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def cut(self, why: str) -> None:
        """Closes the connection at once (no goodbye: the peer is not reading)."""
        self._disarm()
        self._guard.release(self)
        if self._transport is not None and not self._transport.is_closing():
            peer = self._transport.get_extra_info("peername")
            log.debug("HTTP listener closed the connection of %s: %s", peer, why)
            self._transport.abort()

    def _watch(self, data: bytes) -> None:
        """Follows request heads: arms the deadline at a head's first byte, clears it at
        the blank line that ends it (pipelined heads in one read are each followed)."""
        while data:
            if self._body_left:
                taken = min(len(data), self._body_left)
                self._body_left -= taken
                data = data[taken:]
                if not self._body_left:
                    self.awaiting_head = False
                    self._disarm()
                continue
            if not self.awaiting_head:
                self.awaiting_head = True
                self._head.clear()
                self._arm()
            start = max(0, len(self._head) - (len(END_OF_HEAD) - 1))
            self._head += data
            end = self._head.find(END_OF_HEAD, start)
            if end < 0:
                if len(self._head) > MAX_HEAD_KEPT:  # aiohttp refuses it; keep the tail
                    del self._head[: -(len(END_OF_HEAD) - 1)]
                return
            length = _CONTENT_LENGTH.search(b"\r\n" + bytes(self._head[:end]))
            data = bytes(self._head[end + len(END_OF_HEAD) :])
            self._head.clear()
            self._body_left = int(length.group(1)) if length else 0
            if self._body_left:
                self._arm()  # the body has its own HEADER_TIMEOUT
            else:
                self.awaiting_head = False
                self._disarm()

    def _arm(self) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self._guard.header_timeout, self._late)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _late(self) -> None:
        self._deadline = None
        self._guard.metrics.http_connections_cut.labels(reason="head_timeout").inc()
        self.cut(f"no whole request head within {self._guard.header_timeout:g}s")
