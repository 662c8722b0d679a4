"""Reading the hub's HTTP listener from tests: a hub that opens one, Prometheus samples
as a mapping."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from devnets.process import free_port
from tonglian_client.credentials import Credentials
from tonglian_tools.hub_process import HubProcess

Key = tuple[str, frozenset[tuple[str, str]]]


def listening_hub(
    data_dir: Path, *, extra_args: tuple[str, ...] = (), **kwargs: Any
) -> tuple[HubProcess, str]:
    """A hub (not started yet) with its HTTP listener on a free loopback port, and the
    listener's URL: https under mutual TLS, http when `insecure`."""
    port = free_port()
    hub = HubProcess(
        data_dir, extra_args=("--http-listen", f"127.0.0.1:{port}", *extra_args), **kwargs
    )
    return hub, f"{'http' if hub.insecure else 'https'}://127.0.0.1:{port}"


def client_ssl(ca: Path, creds: Credentials | None = None) -> ssl.SSLContext:
    """Trusts the hub's CA (the hub's certificate names no 127.0.0.1); presents `creds`."""
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    if creds is not None:
        context.load_cert_chain(str(creds.cert), str(creds.key))
    return context


def parse(text: str) -> dict[Key, float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def key(name: str, **labels: str) -> Key:
    return name, frozenset(labels.items())


async def scrape(url: str, context: ssl.SSLContext | None = None) -> dict[Key, float]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics", ssl=context) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse(await resp.text())


def changed(before: dict[Key, float], after: dict[Key, float], prefix: str) -> dict[Key, float]:
    """Samples under `prefix` whose value moved, with the difference."""
    return {
        k: after[k] - before.get(k, 0.0)
        for k in after
        if k[0].startswith(prefix) and after[k] != before.get(k, 0.0)
    }
