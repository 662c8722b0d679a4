"""The HTTP listener's connection guard with request bodies (the gateway's PUT and POST):
a body announced by Content-Length must arrive in time like a head, and once it has, no
deadline runs while the answer is being computed, however long (a write waiting for its
block); a body that trickles is cut like a slow head."""

from __future__ import annotations

import asyncio

from hub.observability.connection_guard import ConnectionGuard
from hub.observability.metrics import HubMetrics

TIMEOUT = 0.1


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.aborted

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default


class _Inner(asyncio.Protocol):
    def __init__(self) -> None:
        self.received = b""

    def data_received(self, data: bytes) -> None:
        self.received += data


def _open() -> tuple[asyncio.Protocol, _Inner, _Transport]:
    inner = _Inner()
    guard = ConnectionGuard(header_timeout=TIMEOUT, metrics=HubMetrics())
    conn = guard.factory(lambda: inner)()
    transport = _Transport()
    conn.connection_made(transport)
    return conn, inner, transport


HEAD = b"PUT /v1/x HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"


async def test_a_whole_body_leaves_no_deadline_while_the_answer_is_computed() -> None:
    conn, inner, transport = _open()
    body = b'{"purpose": "p", "wait": true}'
    conn.data_received(HEAD + b"Content-Length: %d\r\n\r\n" % len(body) + body[:5])
    conn.data_received(body[5:])
    await asyncio.sleep(TIMEOUT * 3)
    assert not transport.aborted
    assert inner.received.endswith(body)


async def test_a_body_that_stops_short_is_cut() -> None:
    conn, _, transport = _open()
    conn.data_received(HEAD + b'content-length: 40\r\n\r\n{"purpose"')
    await asyncio.sleep(TIMEOUT * 3)
    assert transport.aborted


async def test_the_next_request_after_a_body_is_followed_again() -> None:
    conn, _, transport = _open()
    conn.data_received(HEAD + b"Content-Length: 2\r\n\r\n{}" + b"GET /healthz HTTP/1.1\r\n")
    await asyncio.sleep(TIMEOUT * 3)
    assert transport.aborted  # the second head never ended


async def test_a_head_without_a_body_leaves_no_deadline() -> None:
    conn, _, transport = _open()
    conn.data_received(b"GET /v1/chains/c/watch HTTP/1.1\r\nHost: hub\r\n\r\n")
    await asyncio.sleep(TIMEOUT * 3)
    assert not transport.aborted
