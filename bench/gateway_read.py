"""Latency of GetRecord through the HTTP/JSON gateway against the same call over gRPC,
on one real `tonglian serve` (mutual TLS on both, --http-listen) and a real custom ledger.

- gateway: GET /v1/chains/{chain}/namespaces/{ns}/records/{key}?purpose=... over HTTPS
  with a client certificate, one kept-alive connection, the JSON answer parsed;
- gRPC: the SDK's get_record on one channel, same certificate, same records;
- both run through the same interceptors, policy, verification and audit append, timed
  in alternation, one at a time. The aim: gateway p50 ≤ 1.3× gRPC p50.

    .venv/bin/python bench/gateway_read.py [--reads 200] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import ssl
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from google.protobuf import json_format  # noqa: E402

from bench.machine import describe  # noqa: E402
from bench.stats import interleaved, p50_p99_ms, ratio  # noqa: E402
from devnets.custom.network import CustomDevnet  # noqa: E402
from devnets.custom.writer import write_record  # noqa: E402
from devnets.process import free_port  # noqa: E402
from hub import pki  # noqa: E402
from tonglian.v1 import chains_pb2  # noqa: E402
from tonglian_client.client import AsyncClient  # noqa: E402
from tonglian_tools.hub_process import HubProcess  # noqa: E402

KEYS = 10
CHAIN = "custom-1"
COLLECTION = "gw-bench"
SCHEMA = "bench.payload/v1"


async def run(reads: int) -> dict[str, Any]:
    async with contextlib.AsyncExitStack() as stack:
        state = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gateway-bench-")))
        devnet = CustomDevnet(state / "custom")
        info = await devnet.up(lambda _: None)
        stack.push_async_callback(devnet.down)
        url = info.endpoints["http"]
        http_port = free_port()
        hub = HubProcess(state / "hub", extra_args=("--http-listen", f"127.0.0.1:{http_port}"))
        hub.start()
        stack.callback(hub.stop)
        await hub.wait_serving()
        creds = hub.credentials
        assert creds is not None
        client = await stack.enter_async_context(AsyncClient(hub.address, creds))
        chain = json_format.ParseDict(info.chain, chains_pb2.Chain())
        chain.chain_id = CHAIN
        await client.register_chain(chain)
        http = await stack.enter_async_context(aiohttp.ClientSession())
        for i in range(KEYS):
            value = {"n": i, "pad": "x" * 1000}
            await write_record(url, COLLECTION, f"k{i}", SCHEMA, value, session=http)
        tls = ssl.create_default_context(cafile=str(hub.pki_dir / pki.CA_CERT))
        tls.load_cert_chain(creds.cert, creds.key)
        gateway = await stack.enter_async_context(
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls, limit=1))
        )
        base = f"https://127.0.0.1:{http_port}/v1/chains/{CHAIN}/namespaces/{COLLECTION}/records"

        async def via_gateway(i: int) -> None:
            async with gateway.get(f"{base}/k{i % KEYS}?purpose=benchmark") as resp:
                body = await resp.json()
                assert resp.status == 200, body
                assert body["record"]["verification"]["verified"] is True

        async def via_grpc(i: int) -> None:
            got = await client.get_record(f"{CHAIN}/{COLLECTION}/k{i % KEYS}", purpose="benchmark")
            assert got.verification.verified

        gateway_t, grpc_t = await interleaved([via_gateway, via_grpc], reads)
    (g50, g99), (r50, r99) = p50_p99_ms(gateway_t), p50_p99_ms(grpc_t)
    return {
        "machine": describe(),
        "reads": reads,
        "record_bytes": 1024,
        "gateway_p50_ms": g50,
        "gateway_p99_ms": g99,
        "grpc_p50_ms": r50,
        "grpc_p99_ms": r99,
        "p50_ratio": ratio(g50, r50, 2),
        "p99_ratio": ratio(g99, r99, 2),
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--reads", type=int, default=200, help="timed reads per path")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = p.parse_args(argv)
    r = asyncio.run(run(args.reads))
    if args.json:
        print(json.dumps(r))
        return 0
    print(
        f"GetRecord, 1 KiB record: gateway p50 {r['gateway_p50_ms']} ms, p99 "
        f"{r['gateway_p99_ms']} ms; gRPC p50 {r['grpc_p50_ms']} ms, p99 {r['grpc_p99_ms']} ms; "
        f"x{r['p50_ratio']} (p50), x{r['p99_ratio']} (p99)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
