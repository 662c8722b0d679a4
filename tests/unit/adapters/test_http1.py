"""The adapters' lean HTTP/1.1 client against real sockets: a real aiohttp server where
the answers are ordinary, and a scripted server where they must be odd on purpose."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Literal

import pytest
from aiohttp import web

from adapters.http1 import MAX_HEAD_BYTES, Http1Client, HttpFailure
from tests.local_http import serving
from tests.self_signed import self_signed

Script = Callable[["Scripted", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Scripted:
    """A TCP server that plays `script(server, reader, writer)` on every connection."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []
        self.handlers: set[asyncio.Task[None]] = set()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        request = head + await reader.readexactly(length)
        self.requests.append(request)
        return request

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await self.script(self, reader, writer)
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def scripted(script: Script) -> AsyncIterator[tuple[str, Scripted]]:
    server = Scripted(script)
    tcp = await asyncio.start_server(server._serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{tcp.sockets[0].getsockname()[1]}", server
    finally:
        tcp.close()
        for handler in server.handlers:
            handler.cancel()
        await asyncio.gather(*server.handlers, return_exceptions=True)


def answering(*answers: bytes, then: Literal["wait", "close", "close_on_next"] = "wait") -> Script:
    """Reads a request and writes the next answer, until the answers run out; then
    waits for the client to close, closes, or reads one more request and closes without
    answering it (a server that timed out an idle connection just as the client sent
    on it)."""

    async def script(
        server: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        for answer in answers:
            if await server.read_request(reader) is None:
                return
            writer.write(answer)
            await writer.drain()
        if then == "wait":
            await reader.read()
        elif then == "close_on_next":
            await server.read_request(reader)

    return script


def scripted_answers(
    *answers: bytes,
) -> contextlib.AbstractAsyncContextManager[tuple[str, Scripted]]:
    return scripted(answering(*answers))


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "type": request.headers.get("Content-Type"),
            "auth": request.headers.get("Authorization"),
            "body": body.decode(),
            "peer": request.transport.get_extra_info("peername")[1] if request.transport else 0,
        }
    )


def echo_app() -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


async def test_requests_reuse_one_kept_alive_connection() -> None:
    async with serving(echo_app()) as url:
        client = Http1Client(url)
        answers = [await client.request("GET", f"/v1/n{i}", timeout=5) for i in range(5)]
        await client.close()
    docs = [json.loads(a.body) for a in answers]
    assert [a.status for a in answers] == [200] * 5
    assert [d["path"] for d in docs] == [f"/v1/n{i}" for i in range(5)]
    assert len({d["peer"] for d in docs}) == 1


async def test_a_body_a_query_and_a_base_path_arrive_as_sent() -> None:
    async with serving(echo_app()) as url:
        client = Http1Client(url + "/base/")
        answer = await client.request(
            "POST",
            "/v1/inbox",
            query={"a": "1", "b": "x y&z"},
            body=b'{"k": "\xc3\xa9"}',
            timeout=5,
        )
        root = await Http1Client(url).request("GET", "", timeout=5)
        await client.close()
    doc = json.loads(answer.body)
    assert (answer.status, doc["method"], doc["path"]) == (200, "POST", "/base/v1/inbox")
    assert doc["query"] == {"a": "1", "b": "x y&z"}
    assert (doc["type"], doc["body"]) == ("application/json", '{"k": "é"}')
    assert json.loads(root.body)["path"] == "/"


async def test_credentials_in_the_url_are_sent_as_basic_auth() -> None:
    async with serving(echo_app()) as url:
        client = Http1Client(url.replace("http://", "http://relay:s3cret@"))
        answer = await client.request("GET", "/", timeout=5)
        await client.close()
    assert json.loads(answer.body)["auth"] == "Basic cmVsYXk6czNjcmV0"


async def test_no_more_connections_than_the_limit() -> None:
    busy = 0
    most = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal busy, most
        busy += 1
        most = max(most, busy)
        await asyncio.sleep(0.05)
        busy -= 1
        return web.Response(text="done")

    app = web.Application()
    app.router.add_get("/", slow)
    async with serving(app) as url:
        client = Http1Client(url, limit=2)
        answers = await asyncio.gather(*(client.request("GET", "/", timeout=5) for _ in range(6)))
        await client.close()
    assert [a.body for a in answers] == [b"done"] * 6
    assert most == 2


async def test_a_chunked_body_with_extensions_and_trailers() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=x\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    async with scripted_answers(chunked, OK) as (url, server):
        client = Http1Client(url)
        first = await client.request("GET", "/", timeout=5)
        second = await client.request("GET", "/", timeout=5)
        await client.close()
    assert (first.status, first.body, second.body) == (200, b"hello world", b"ok")
    assert server.connections == 1


async def test_a_body_that_ends_with_the_connection_is_read_and_the_connection_dropped() -> None:
    until_close = answering(b"HTTP/1.0 200 OK\r\n\r\nuntil the end", then="close")
    async with scripted(until_close) as (url, server):
        client = Http1Client(url)
        first = await client.request("GET", "/", timeout=5)
        second = await client.request("GET", "/", timeout=5)
        await client.close()
    assert (first.body, second.body) == (b"until the end", b"until the end")
    assert server.connections == 2


async def test_connection_close_is_honoured() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    async with scripted_answers(closing) as (url, server):
        client = Http1Client(url)
        await client.request("GET", "/", timeout=5)
        await client.request("GET", "/", timeout=5)
        await client.close()
    assert server.connections == 2


async def test_an_interim_answer_is_skipped_and_no_content_has_no_body() -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
    async with scripted_answers(interim, OK) as (url, server):
        client = Http1Client(url)
        first = await client.request("POST", "/", body=b"{}", timeout=5)
        second = await client.request("GET", "/", timeout=5)
        await client.close()
    assert (first.status, first.body, second.body) == (204, b"", b"ok")
    assert server.connections == 1


@pytest.mark.parametrize("retry_safe", [True, False])
async def test_a_kept_alive_connection_the_server_closed_is_retried_only_when_safe(
    retry_safe: bool,
) -> None:
    async with scripted(answering(OK, then="close_on_next")) as (url, server):
        client = Http1Client(url)
        await client.request("GET", "/", timeout=5)
        if retry_safe:
            answer = await client.request("POST", "/again", body=b"1", timeout=5, retry_safe=True)
            assert answer.body == b"ok"
            assert server.connections == 2
            assert [r.split(b" ")[1] for r in server.requests] == [b"/", b"/again", b"/again"]
        else:
            with pytest.raises(HttpFailure, match=r"^the server closed a kept-alive connection$"):
                await client.request("POST", "/again", body=b"1", timeout=5)
            assert server.connections == 1
        await client.close()


async def test_a_new_connection_closed_without_an_answer_is_not_retried() -> None:
    async with scripted(answering(then="close_on_next")) as (url, server):
        client = Http1Client(url)
        with pytest.raises(
            HttpFailure, match=r"^the server closed the connection without answering$"
        ):
            await client.request("GET", "/", timeout=5, retry_safe=True)
    assert server.connections == 1


@pytest.mark.parametrize(
    "answer, error",
    [
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b",
            "the server closed the connection mid-answer",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Le", "the server closed the connection mid-answer"),
        (
            b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
            "not an HTTP/1.x status line: 'SSH-2.0-OpenSSH_9.6'",
        ),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "not an HTTP/1.x status line: 'HTTP/1.1 2000 OK'"),
        (
            b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
            "malformed header line 'no colon here'",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
            "conflicting Content-Length headers",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "malformed Content-Length '-1'",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            "unsupported Transfer-Encoding 'gzip'",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "malformed chunk size b'zz'",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n",
            "a chunk does not end with CRLF",
        ),
    ],
)
async def test_a_malformed_answer_is_a_precise_failure(answer: bytes, error: str) -> None:
    async with scripted(answering(answer, then="close")) as (url, _):
        client = Http1Client(url)
        with pytest.raises(HttpFailure) as failure:
            await client.request("GET", "/", timeout=5)
        await client.close()
    assert str(failure.value) == error


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n0123456789A",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"6\r\n012345\r\n5\r\n6789A\r\n0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\n0123456789A",
    ],
    ids=["content-length", "chunked", "until-close"],
)
async def test_a_body_over_the_limit_is_refused(answer: bytes) -> None:
    async with scripted(answering(answer, then="close")) as (url, _):
        client = Http1Client(url, max_body=10)
        with pytest.raises(HttpFailure) as failure:
            await client.request("GET", "/", timeout=5)
        await client.close()
    assert str(failure.value) == "the answer's body is larger than 10 bytes"


async def test_a_head_over_the_limit_is_refused() -> None:
    huge = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n"
    async with scripted_answers(huge) as (url, _):
        client = Http1Client(url)
        with pytest.raises(HttpFailure) as failure:
            await client.request("GET", "/", timeout=5)
        await client.close()
    assert str(failure.value) == f"the answer's head is longer than {MAX_HEAD_BYTES} bytes"


async def test_a_late_answer_never_becomes_the_next_requests_answer() -> None:
    """A request that times out (or is cancelled) drops its connection: the answer that
    comes later cannot be read as the answer to another request."""

    async def script(
        server: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while (request := await server.read_request(reader)) is not None:
            if b"/slow" in request:
                await asyncio.sleep(0.3)
            body = request.split(b" ")[1]
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()

    async with scripted(script) as (url, server):
        client = Http1Client(url)
        with pytest.raises(TimeoutError):
            await client.request("GET", "/slow", timeout=0.05)
        slow = asyncio.ensure_future(client.request("GET", "/slow", timeout=5))
        await asyncio.sleep(0.05)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        answer = await client.request("GET", "/fast", timeout=5)
        await client.close()
    assert answer.body == b"/fast"
    assert server.connections == 3


async def test_no_server_is_a_failure_that_names_the_address() -> None:
    async with scripted_answers() as (url, _):
        pass  # closed: nothing listens on its port any more
    client = Http1Client(url)
    with pytest.raises(HttpFailure) as failure:
        await client.request("GET", "/", timeout=5)
    assert str(failure.value).startswith(f"cannot connect to {url.removeprefix('http://')}: ")


def test_only_http_urls_with_a_host() -> None:
    with pytest.raises(ValueError, match=r"^not an http\(s\) URL with a host: 'ftp://x/'$"):
        Http1Client("ftp://x/")
    with pytest.raises(ValueError, match=r"^not an http\(s\) URL with a host: 'http:///v1'$"):
        Http1Client("http:///v1")


async def test_tls_is_verified_against_the_trust_the_caller_chose(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    runner = web.AppRunner(echo_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_tls)
    await site.start()
    port = runner.addresses[0][1]
    url = f"https://localhost:{port}"
    try:
        trusting = Http1Client(url, ssl_context=ssl.create_default_context(cafile=cert))
        answer = await trusting.request("GET", "/tls", timeout=5)
        again = await trusting.request("GET", "/tls", timeout=5)
        await trusting.close()
        with pytest.raises(HttpFailure) as failure:
            await Http1Client(url).request("GET", "/", timeout=5)
    finally:
        await runner.cleanup()
    assert (answer.status, again.status) == (200, 200)
    assert str(failure.value).startswith(f"TLS with localhost:{port} failed: ")
    assert "CERTIFICATE_VERIFY_FAILED" in str(failure.value)


def test_a_client_moves_to_another_event_loop() -> None:
    """The hub's loop and a CLI's short-lived loops: connections made by a loop that is
    gone are dropped, not used."""
    ready = threading.Event()
    stop: list[Callable[[], None]] = []
    address: list[str] = []

    def serve() -> None:
        async def main() -> None:
            runner = web.AppRunner(echo_app())
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            address.append(f"http://127.0.0.1:{runner.addresses[0][1]}")
            done = asyncio.Event()
            loop = asyncio.get_running_loop()
            stop.append(lambda: loop.call_soon_threadsafe(done.set))
            ready.set()
            await done.wait()
            await runner.cleanup()

        asyncio.run(main())

    thread = threading.Thread(target=serve)
    thread.start()
    ready.wait(5)
    try:
        client = Http1Client(address[0])
        first = asyncio.run(client.request("GET", "/one", timeout=5))
        second = asyncio.run(client.request("GET", "/two", timeout=5))
    finally:
        stop[0]()
        thread.join(5)
    assert (first.status, second.status) == (200, 200)
    assert b'"/two"' in second.body
