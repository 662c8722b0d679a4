"""Readiness probes for Fabric processes: operations `/healthz`, and a phrase in a log."""

from __future__ import annotations

import asyncio
from pathlib import Path


async def healthz(port: int, host: str = "127.0.0.1") -> bool:
    """True when the operations endpoint (plain HTTP) answers 200 on /healthz."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
    try:
        writer.write(f"GET /healthz HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 2.0)
    finally:
        writer.close()
    return b" 200 " in status_line


def log_contains(path: Path, phrase: str) -> bool:
    try:
        return phrase in path.read_text(errors="replace")
    except OSError:
        return False


async def listening(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on the port."""
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
    writer.close()
    return True
