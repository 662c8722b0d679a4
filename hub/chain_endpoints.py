"""The network endpoints a chain's registration points the hub at, normalised to compare.

Operator scope follows what a chain touches: a chain registered under a name in an
operator's scope but pointing at another chain's node reaches that chain. So every
place a registration names a node is collected (the remote adapter's address, any
URL or HOST:PORT among the adapter's options, however nested, such as Fabric peers,
and an EVM anchor's RPC endpoints) and reduced to what identifies the node: scheme,
case, default ports, URL paths and loopback spellings do not make two endpoints
differ, and a host name is compared by the addresses it resolves to.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from google.protobuf.json_format import MessageToDict

from tonglian.v1 import chains_pb2

DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
HOST_PORT = re.compile(r"^\[?(?P<host>[A-Za-z0-9_.:%-]+?)\]?:(?P<port>\d{1,5})$")
LOOPBACK = "loopback"
RESOLVE_SECONDS = 2.0


@dataclass(frozen=True)
class Endpoint:
    # Where in the registration it was named, e.g. "adapter.options.rpc_url".
    field: str
    host: str
    port: int


def endpoints(chain: chains_pb2.Chain) -> list[Endpoint]:
    """Every node the registration names, with the field that names it."""
    found: list[Endpoint] = []
    if chain.adapter.address:
        found += _parse("adapter.address", chain.adapter.address)
    options = MessageToDict(chain.adapter.options)
    for path, text in _strings(options, "adapter.options"):
        found += _parse(path, text)
    if chain.trust_anchor.HasField("evm"):
        for i, url in enumerate(chain.trust_anchor.evm.rpc_endpoints):
            found += _parse(f"trust_anchor.evm.rpc_endpoints[{i}]", url)
    return found


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")


def _parse(path: str, text: str) -> list[Endpoint]:
    text = text.strip()
    if "://" in text:
        try:
            parts = urlsplit(text)
            port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
        except ValueError:
            return []
        if not parts.hostname or port is None:
            return []
        return [Endpoint(path, _host(parts.hostname), port)]
    match = HOST_PORT.match(text)
    if match and 0 < int(match["port"]) < 65536:
        return [Endpoint(path, _host(match["host"]), int(match["port"]))]
    return []


def _host(host: str) -> str:
    host = host.lower().strip("[]").rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return LOOPBACK
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback or ip.is_unspecified:
        return LOOPBACK
    return str(ip)


async def node_keys(endpoint: Endpoint) -> frozenset[tuple[str, int]]:
    """What identifies the node: its host (loopback spellings made one) and, for a name,
    every address the name resolves to (within RESOLVE_SECONDS), each with the port."""
    hosts = {endpoint.host}
    if endpoint.host != LOOPBACK and not _is_ip(endpoint.host):
        hosts |= await _resolve(endpoint.host)
    return frozenset((h, endpoint.port) for h in hosts)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _resolve(name: str) -> set[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(name, None, type=socket.SOCK_STREAM), RESOLVE_SECONDS
        )
    except (OSError, TimeoutError, UnicodeError):
        return set()
    return {_host(str(info[4][0])) for info in infos}
