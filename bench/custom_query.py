"""Cost of a verified custom-ledger read through the hub against a direct read, and
signed-Merkle verifier throughput against the raw Ed25519 bound, in one run.

- verified read: GetRecord over gRPC with mutual TLS on a real `tonglian serve`
  (policy, adapter proof read, k-of-n Ed25519 + Merkle verification, audit append);
- direct read: the same record straight from the ledger's HTTP API
  (GET /v1/records), no proof, on one kept-alive connection of the HTTP client the
  adapter itself uses (adapters/http1.py); both timed in alternation, one at a time;
- growth: with the record size (1 KiB to 256 KiB, the custom ledger's value limit;
  1 MiB cannot be written there) and with the number of linked chains (the ledger
  registered under 1 to 20 chain ids, reads spread over them);
- verifier: verify_signed_merkle_record per second on proofs read from the ledger,
  against k raw Ed25519 verifications per header (same keys, headers, signatures)
  with `cryptography`, one core.

    .venv/bin/python bench/custom_query.py [--quick] [--reads 200] [--seconds 2] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: E402
from google.protobuf import json_format  # noqa: E402

from adapters.base import AdapterContext  # noqa: E402
from adapters.custom import create_adapter  # noqa: E402
from adapters.http1 import Http1Client  # noqa: E402
from bench.machine import describe  # noqa: E402
from bench.stats import alternating_rates, interleaved, p50_p99_ms, ratio  # noqa: E402
from devnets.custom.ledger.inputs import MAX_VALUE_BYTES  # noqa: E402
from devnets.custom.network import CustomDevnet  # noqa: E402
from devnets.custom.writer import write_record  # noqa: E402
from tonglian.v1 import chains_pb2  # noqa: E402
from tonglian_client.client import AsyncClient  # noqa: E402
from tonglian_proof.verify.signed_merkle import SIGNING_DOMAIN, verify_signed_merkle_record  # noqa: E402
from tonglian_proof.verify.verified_cache import clear_verified_caches  # noqa: E402
from tonglian_tools.hub_process import HubProcess  # noqa: E402

KIB = 1024
KEYS = 10
SCHEMA = "bench.payload/v1"


async def run(reads: int, seconds: float, quick: bool) -> dict[str, Any]:
    sizes = [KIB, 16 * KIB, MAX_VALUE_BYTES - 64, 1024 * KIB]
    chain_counts = [1, 20] if quick else [1, 5, 20]
    rows: list[dict[str, Any]] = []
    async with contextlib.AsyncExitStack() as stack:
        state = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="custom-bench-")))
        devnet = CustomDevnet(state / "custom")
        info = await devnet.up(lambda _: None)
        stack.push_async_callback(devnet.down)
        url = info.endpoints["http"]
        chain = json_format.ParseDict(info.chain, chains_pb2.Chain())
        http = await stack.enter_async_context(aiohttp.ClientSession())
        reader = Http1Client(url)
        stack.push_async_callback(reader.close)
        hub = HubProcess(state / "hub")
        hub.start()
        stack.callback(hub.stop)
        await hub.wait_serving()
        client = await stack.enter_async_context(AsyncClient(hub.address, hub.credentials))
        registered = 0

        async def link(count: int) -> list[str]:
            nonlocal registered
            while registered < count:
                c = chains_pb2.Chain()
                c.CopyFrom(chain)
                c.chain_id = f"custom-{registered}"
                await client.register_chain(c)
                registered += 1
            return [f"custom-{i}" for i in range(count)]

        for size in sizes:
            collection = f"s{size}"
            if size > MAX_VALUE_BYTES:
                rows.append(
                    {
                        "record_bytes": size,
                        "linked_chains": 1,
                        "skipped": f"the custom ledger refuses values over "
                        f"{MAX_VALUE_BYTES // KIB} KiB",
                    }
                )
                continue
            for i in range(KEYS):
                value = {"n": i, "pad": "x" * (size - 20)}
                await write_record(url, collection, f"k{i}", SCHEMA, value, session=http)
            for count in chain_counts if size == KIB else [1]:
                chain_ids = await link(count)

                async def via_hub(
                    i: int, ids: list[str] = chain_ids, coll: str = collection
                ) -> None:
                    ref = f"{ids[i % len(ids)]}/{coll}/k{i % KEYS}"
                    await client.get_record(ref, purpose="benchmark")

                async def direct(i: int, coll: str = collection) -> None:
                    query = urlencode({"collection": coll, "key": f"k{i % KEYS}"})
                    got = await reader.request("GET", f"/v1/records?{query}", timeout=10)
                    assert got.status == 200

                n = reads if size <= 16 * KIB else max(20, reads // 4)
                hub_t, direct_t = await interleaved([via_hub, direct], n)
                (h50, h99), (d50, d99) = p50_p99_ms(hub_t), p50_p99_ms(direct_t)
                row = {
                    "record_bytes": size,
                    "linked_chains": count,
                    "reads": n,
                    "hub_p50_ms": h50,
                    "hub_p99_ms": h99,
                    "direct_p50_ms": d50,
                    "direct_p99_ms": d99,
                    "p50_ratio": ratio(h50, d50, 2),
                    "p99_ratio": ratio(h99, d99, 2),
                }
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)

        adapter = create_adapter(
            AdapterContext(
                chain_id=chain.chain_id,
                options=json_format.MessageToDict(chain.adapter.options),
                trust_anchor=chain.trust_anchor,
            )
        )
        stack.push_async_callback(adapter.close)
        proofs = [await adapter.read(f"s{KIB}", f"k{i}") for i in range(KEYS)]

    anchor = chain.trust_anchor.signed_merkle
    keys = {
        v.id: Ed25519PublicKey.from_public_bytes(v.ed25519_public_key) for v in anchor.validators
    }
    raw = [
        (keys[s.validator_id], s.signature, SIGNING_DOMAIN + p.proof.signed_merkle.header)
        for p in proofs
        for s in p.proof.signed_merkle.signatures[: anchor.threshold]
    ]

    def verify_all() -> int:
        # Every batch verifies its headers afresh (a header shared by several of the
        # records is checked once, as in the hub); nothing is carried over between batches.
        clear_verified_caches()
        for p in proofs:
            verify_signed_merkle_record(p.record, p.proof.signed_merkle, anchor)
        return len(proofs)

    def raw_all() -> int:
        for key, sig, msg in raw:
            key.verify(sig, msg)
        return len(raw)

    verified, raw_rate = alternating_rates(verify_all, raw_all, seconds)
    bound = raw_rate / anchor.threshold
    return {
        "machine": describe(),
        "path": "hub GetRecord over gRPC, mutual TLS (tonglian serve) vs ledger GET /v1/records",
        "rows": rows,
        "verifier": {
            "signatures_per_header": anchor.threshold,
            "raw_ed25519_verify_per_s": round(raw_rate, 1),
            "bound_records_per_s": round(bound, 1),
            "verified_records_per_s": round(verified, 1),
            "ratio": ratio(verified, bound),
        },
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--reads", type=int, default=200, help="timed reads per path and setting")
    p.add_argument("--seconds", type=float, default=2.0, help="time per verifier measurement")
    p.add_argument("--quick", action="store_true", help="fewer settings")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = p.parse_args(argv)
    r = asyncio.run(run(args.reads, args.seconds, args.quick))
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"verified read: {r['path']}")
    for row in r["rows"]:
        what = f"  {row['record_bytes']:>8} B, {row['linked_chains']:>2} chains: "
        if "skipped" in row:
            print(what + row["skipped"])
            continue
        print(
            what + f"hub p50 {row['hub_p50_ms']} ms, p99 {row['hub_p99_ms']} ms; direct p50 "
            f"{row['direct_p50_ms']} ms, p99 {row['direct_p99_ms']} ms; "
            f"x{row['p50_ratio']} (p50), x{row['p99_ratio']} (p99)"
        )
    v = r["verifier"]
    print(
        f"verifier: {v['verified_records_per_s']} records/s vs raw Ed25519 "
        f"{v['raw_ed25519_verify_per_s']}/s / {v['signatures_per_header']} per header = "
        f"{v['bound_records_per_s']}/s: {v['ratio'] * 100:.1f}% of the bound"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
