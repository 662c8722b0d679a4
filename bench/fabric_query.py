"""Cost of a verified Fabric read through the hub against the Gateway's own evaluate of the
same key, in one run.

- verified read: GetRecord over gRPC with mutual TLS on a real `tonglian serve` (policy,
  the adapter's block and qscc reads, the hub's verification: orderer, creator and
  endorser signatures, endorsement policy, write set, k organisations' qscc answers,
  audit append);
- direct read: the records chaincode's `get` of the same key, evaluated through a
  peer's Gateway on one persistent connection (what a Fabric application does without
  the hub: one endorsing peer's answer, no proof);
- both timed in alternation, one at a time; p50 and p99 of each.

It needs a Fabric network started from the release binaries (FABRIC_HOME or `peer` on
PATH); where they are not found it says so and exits 0, as `bench/run_all.py` reports.

    .venv/bin/python bench/fabric_query.py [--reads 200] [--json]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devnets.fabric.binaries import find_release  # noqa: E402

KEYS = 10
SCHEMA = "bench.payload/v1"
CHAIN_ID = "fabric-bench"
NOT_FOUND = "not measured: Fabric release binaries not found (FABRIC_HOME or `peer` on PATH)"


async def run(reads: int) -> dict[str, Any]:
    from google.protobuf import json_format

    from bench.machine import describe
    from bench.stats import interleaved, p50_p99_ms, ratio
    from devnets.fabric.client import devnet_adapter
    from devnets.fabric.network import FabricDevnet
    from tonglian.v1 import chains_pb2
    from tonglian_client.client import AsyncClient
    from tonglian_tools.hub_process import HubProcess

    async with contextlib.AsyncExitStack() as stack:
        state = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fabric-bench-")))
        devnet = FabricDevnet(state / "fabric")
        info = await devnet.up(lambda _: None)
        stack.push_async_callback(devnet.down)
        chain = json_format.ParseDict(info.chain, chains_pb2.Chain())
        chain.chain_id = CHAIN_ID
        adapter = devnet_adapter(info, CHAIN_ID)
        stack.push_async_callback(adapter.close)
        hub = HubProcess(state / "hub")
        hub.start()
        stack.callback(hub.stop)
        await hub.wait_serving()
        client = await stack.enter_async_context(AsyncClient(hub.address, hub.credentials))
        await client.register_chain(chain)
        for i in range(KEYS):
            await adapter.put(f"bench:{i}", SCHEMA, {"n": i, "schema": SCHEMA})

        async def via_hub(i: int) -> None:
            ref = f"{CHAIN_ID}/{adapter.namespace}/bench:{i % KEYS}"
            await client.get_record(ref, purpose="benchmark")

        async def direct(i: int) -> None:
            await adapter.evaluate("get", f"bench:{i % KEYS}")

        hub_t, direct_t = await interleaved([via_hub, direct], reads)
    (h50, h99), (d50, d99) = p50_p99_ms(hub_t), p50_p99_ms(direct_t)
    return {
        "machine": describe(),
        "path": "hub GetRecord over gRPC, mutual TLS vs the Gateway's evaluate of `get`",
        "reads": reads,
        "hub_p50_ms": h50,
        "hub_p99_ms": h99,
        "direct_p50_ms": d50,
        "direct_p99_ms": d99,
        "p50_ratio": ratio(h50, d50, 2),
        "p99_ratio": ratio(h99, d99, 2),
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--reads", type=int, default=200, help="timed reads per path")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = p.parse_args(argv)
    if find_release() is None:
        print(json.dumps({"skipped": NOT_FOUND}) if args.json else NOT_FOUND)
        return 0
    r = asyncio.run(run(args.reads))
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"verified read: {r['path']}")
    print(
        f"  hub p50 {r['hub_p50_ms']} ms, p99 {r['hub_p99_ms']} ms; direct p50 "
        f"{r['direct_p50_ms']} ms, p99 {r['direct_p99_ms']} ms; x{r['p50_ratio']} (p50), "
        f"x{r['p99_ratio']} (p99)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
