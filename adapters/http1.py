"""A lean HTTP/1.1 client for the JSON calls an adapter makes on the relay's hot path.

The relay submits every record to its destination and asks after it; between two custom
ledgers those requests were the hub's largest cost. aiohttp's client spends about 270 µs of
CPU on a small request (request and response objects, header multidicts, tracing signals,
a cookie jar); this one about 90 µs, because it does only what a ledger's JSON API needs:
keep-alive connections (plain or TLS), a body sized by Content-Length, chunked, or ending
with the connection, and typed failures. No redirects, cookies, proxies or compression.

Retries: a connection kept alive may have been closed by the server while idle; a request
that finds it closed before any byte of the answer arrives is sent once more on a new
connection, but only when the caller says it is safe to repeat (`retry_safe`).
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

# An answer's status line and headers; a longer head is refused, not buffered.
MAX_HEAD_BYTES = 64 * 1024
# An answer's body; a ledger's largest (a page of blocks of 255 KiB records) is far below.
DEFAULT_MAX_BODY = 256 * 1024 * 1024
# Connections to one server, busy and idle (aiohttp's default).
DEFAULT_LIMIT = 100


class HttpFailure(Exception):
    """The server could not be reached, or its answer was not HTTP/1.x as it must be."""


class AnswerTooLarge(HttpFailure):
    """The answer's body is larger than the client takes (`max_body`)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def usable(self) -> bool:
        return not (self.reader.at_eof() or self.writer.transport.is_closing())

    def close(self) -> None:
        self.writer.transport.abort()


class _Closed(HttpFailure):
    """The connection was closed before any byte of the answer arrived."""


class Http1Client:
    """Requests to one server (scheme, host, port and base path of `url`)."""

    def __init__(
        self,
        url: str,
        *,
        limit: int = DEFAULT_LIMIT,
        max_body: int = DEFAULT_MAX_BODY,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL with a host: {url!r}")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        # Sent with every request: the Host header, and the URL's credentials if any.
        self._fixed = b"Host: %s\r\n" % parts.netloc.rsplit("@", 1)[-1].encode("ascii")
        if parts.username is not None:
            secret = f"{parts.username}:{parts.password or ''}".encode()
            self._fixed += b"Authorization: Basic %s\r\n" % base64.b64encode(secret)
        self._base = parts.path.rstrip("/")
        self._tls: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self._tls = ssl_context or ssl.create_default_context()
        self._limit = limit
        self._max_body = max_body
        self._idle: list[_Connection] = []
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def request(
        self,
        method: str,
        target: str,
        *,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
        timeout: float,
        retry_safe: bool = False,
    ) -> Answer:
        """`target`: the path under the base URL, already encoded ("" for the base URL
        itself); `query`, its parameters to encode."""
        target = self._base + target or "/"
        if query:
            target += "?" + urlencode(query)
        head = b"%s %s HTTP/1.1\r\n%s" % (
            method.encode("ascii"),
            target.encode("ascii"),
            self._fixed,
        )
        if body is not None:
            head += b"Content-Type: %s\r\nContent-Length: %d\r\n" % (
                content_type.encode("ascii"),
                len(body),
            )
        message = head + b"\r\n" + (body or b"")
        slots = self._slots_here()
        async with asyncio.timeout(timeout):
            async with slots:
                try:
                    return await self._exchange(self._take_idle(), method, message)
                except _Closed:
                    if not retry_safe:
                        raise
                return await self._exchange(None, method, message)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _slots_here(self) -> asyncio.Semaphore:
        """The connection slots of the running loop; a client used from another loop
        (tests, a restarted loop) drops the connections the old one made."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._slots is None:
            old_loop_closed = self._loop is not None and self._loop.is_closed()
            for conn in self._idle:
                if old_loop_closed:  # its transports cannot be closed any more
                    conn.writer.transport.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
                else:
                    conn.close()
            self._idle = []
            self._loop = loop
            self._slots = asyncio.Semaphore(self._limit)
        return self._slots

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable():
                return conn
            conn.close()
        return None

    async def _exchange(self, conn: _Connection | None, method: str, message: bytes) -> Answer:
        """Sends `message` on `conn` (a new connection when None) and reads the answer.
        Raises _Closed only for a reused connection that closed before answering."""
        reused = conn is not None
        if conn is None:
            conn = await self._connect()
        reusable = False  # set once the whole answer is read and the server keeps it open
        try:
            try:
                conn.writer.write(message)
                await conn.writer.drain()
                head = await _read_head(conn.reader)
            except asyncio.IncompleteReadError as exc:
                if exc.partial:
                    raise HttpFailure("the server closed the connection mid-answer") from exc
                if reused:
                    raise _Closed("the server closed a kept-alive connection") from exc
                raise HttpFailure("the server closed the connection without answering") from exc
            except (ConnectionResetError, BrokenPipeError) as exc:
                if reused:
                    raise _Closed("the server closed a kept-alive connection") from exc
                raise HttpFailure(f"connection lost: {exc}") from exc
            status, headers, keep = _parse_head(head)
            while 100 <= status < 200:  # an interim answer: the final one follows
                status, headers, keep = _parse_head(await _read_head(conn.reader))
            body, ended_with_connection = await self._body(conn.reader, method, status, headers)
            reusable = keep and not ended_with_connection
            return Answer(status, body)
        except asyncio.IncompleteReadError as exc:
            raise HttpFailure("the server closed the connection mid-answer") from exc
        except asyncio.LimitOverrunError as exc:
            raise HttpFailure(f"a chunk-size line is longer than {MAX_HEAD_BYTES} bytes") from exc
        except OSError as exc:
            raise HttpFailure(f"connection lost: {exc}") from exc
        finally:
            if reusable and len(self._idle) < self._limit:
                self._idle.append(conn)
            else:
                conn.close()

    async def _connect(self) -> _Connection:
        try:
            reader, writer = await asyncio.open_connection(
                self._host,
                self._port,
                ssl=self._tls,
                server_hostname=self._host if self._tls else None,
                limit=MAX_HEAD_BYTES,
            )
        except ssl.SSLError as exc:
            raise HttpFailure(f"TLS with {self._host}:{self._port} failed: {exc}") from exc
        except OSError as exc:
            raise HttpFailure(
                f"cannot connect to {self._host}:{self._port}: {exc.strerror or exc}"
            ) from exc
        return _Connection(reader, writer)

    async def _body(
        self, reader: asyncio.StreamReader, method: str, status: int, headers: dict[str, str]
    ) -> tuple[bytes, bool]:
        """The answer's body, and whether it ended with the connection."""
        if method == "HEAD" or status in (204, 304):
            return b"", False
        coding = headers.get("transfer-encoding")
        if coding is not None:
            if coding.lower() != "chunked":
                raise HttpFailure(f"unsupported Transfer-Encoding {coding!r}")
            return await self._chunked(reader), False
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise HttpFailure(f"malformed Content-Length {length!r}")
            size = int(length)
            self._within_limit(size)
            return await reader.readexactly(size), False
        body = b""
        while more := await reader.read(self._max_body + 1 - len(body)):
            body += more
            self._within_limit(len(body))
        return body, True

    async def _chunked(self, reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = await reader.readuntil(b"\r\n")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise HttpFailure(f"malformed chunk size {size_text[:20]!r}") from None
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailer fields
                    pass
                return b"".join(parts)
            total += size
            self._within_limit(total)
            parts.append(await reader.readexactly(size))
            if await reader.readexactly(2) != b"\r\n":
                raise HttpFailure("a chunk does not end with CRLF")

    def _within_limit(self, size: int) -> None:
        if size > self._max_body:
            raise AnswerTooLarge(f"the answer's body is larger than {self._max_body} bytes")


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    """An answer's status line and headers, up to the blank line."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError as exc:
        raise HttpFailure(f"the answer's head is longer than {MAX_HEAD_BYTES} bytes") from exc


def _parse_head(head: bytes) -> tuple[int, dict[str, str], bool]:
    """Status, headers (names lowercased) and whether the connection stays open."""
    lines = head[:-4].decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if version not in ("HTTP/1.1", "HTTP/1.0") or not code.isdigit() or rest[3:4] not in ("", " "):
        raise HttpFailure(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpFailure(f"malformed header line {line[:80]!r}")
        name = name.lower()
        value = value.strip()
        if name in headers and name == "content-length" and headers[name] != value:
            raise HttpFailure("conflicting Content-Length headers")
        headers[name] = value
    connection = headers.get("connection", "").lower()
    keep = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    return int(code), headers, keep
