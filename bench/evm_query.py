"""Cost of a verified EVM read against a direct unverified read, and verifier throughput.

One anvil devnet (from npm) in one run. Figures:
- verified read: GetRecord over gRPC on a real `tonglian serve` (adapter.read,
  attest_header against the endpoint, verify_evm_record, audit); with `--in-process`
  (or when the hub server is not in the tree) adapter.read + attest_header +
  verify_evm_record in this process;
- direct read: web3 reading the same value without proof (blockOf call, then the
  RecordWritten log of that block), and the cheapest honest read a user would write
  without the hub: the same two calls as raw JSON-RPC, asked in parallel on one
  persistent HTTP connection (the aim is measured against this one);
- verifier: verify_evm_record per second on the proofs read, against the raw
  keccak256 + RLP decoding work the same proofs need (every node hashed and decoded,
  the header hashed, the digest recomputed), one core.

    .venv/bin/python bench/evm_query.py [--reads 200] [--seconds 2] [--in-process] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import rlp  # noqa: E402
from eth_hash.auto import keccak  # noqa: E402
from eth_utils.address import to_checksum_address  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from web3 import AsyncHTTPProvider, AsyncWeb3  # noqa: E402

from adapters.evm import contracts as adapter_contracts  # noqa: E402
from adapters.evm import create_adapter  # noqa: E402
from adapters.evm.wire import EvmRpc  # noqa: E402
from bench.stats import alternating_rates, interleaved, p50_p99_ms  # noqa: E402
from devnets.evm import contracts  # noqa: E402
from devnets.evm.network import EvmDevnet  # noqa: E402
from hub.adapter_context import adapter_context  # noqa: E402
from hub.oracles.evm_headers import attest_header  # noqa: E402
from hub.secrets import read_local  # noqa: E402
from tonglian.v1 import chains_pb2, records_pb2  # noqa: E402
from tonglian_client.secret_files import register_staged  # noqa: E402
from tonglian_proof.crypto.keccak import keccak256  # noqa: E402
from tonglian_proof.verify.evm import verify_evm_record  # noqa: E402
from tonglian_proof.verify.evm_registry import record_digest  # noqa: E402

KEYS = 20
SCHEMA = "gov.license.business/v1"


async def _offline_check(
    hub_read: Callable[[str], Awaitable[Any]], key: str, chain: chains_pb2.Chain
) -> str:
    """Whether the hub's bundle re-verifies offline (it needs the recorded attestations)."""
    from tonglian_proof.bundle import ReaderTrust, verify_bundle

    response = await hub_read(key)
    try:
        verify_bundle(response.record.bundle, ReaderTrust(chain.trust_anchor))
    except Exception as exc:
        return f"fails: {exc}"
    return "ok"


def _raw_work(
    proof: records_pb2.EvmStorageProof, record: records_pb2.Record, chain_id: int
) -> None:
    """The irreducible hashing and decoding of one proof, without any checking logic, with
    the keccak and RLP decoder the verifier uses (tonglian_proof.crypto.keccak: a slower
    keccak here would inflate the bound)."""
    keccak256(proof.block_header_rlp)
    rlp.decode(proof.block_header_rlp)
    for node in [*proof.account_proof, *proof.storage_proof, *proof.version_proof]:
        keccak256(node)
        rlp.decode(node)
    keccak256(proof.account)
    keccak256(proof.storage_key)
    keccak256(proof.version_key)
    record_digest(
        chain_id=chain_id,
        registry=proof.account,
        key=record.ref.key,
        schema=record.schema,
        value=record.value,
        version=record.version,
        deleted=record.deleted,
    )


async def _hub_reader(
    chain: chains_pb2.Chain, state: Path, stack: contextlib.AsyncExitStack
) -> Callable[[str], Awaitable[Any]] | None:
    try:
        from hub.cli.connection import open_channel
        from tonglian.v1 import chains_pb2_grpc, query_pb2, query_pb2_grpc
        from tonglian_tools.hub_process import HubProcess
    except ImportError:
        return None
    hub = HubProcess(state / "hub")
    hub.start()
    stack.callback(hub.stop)
    try:
        await hub.wait_serving()
    except (RuntimeError, TimeoutError) as exc:
        print(f"hub did not start, timing in process instead: {exc}", file=sys.stderr)
        return None
    channel = await stack.enter_async_context(open_channel(hub.address, hub.credentials))
    await register_staged(chains_pb2_grpc.ChainRegistryStub(channel), chain)
    query = query_pb2_grpc.QueryStub(channel)
    registry = to_checksum_address(chain.trust_anchor.evm.registry_address)

    async def read(key: str) -> Any:
        ref = records_pb2.RecordRef(chain_id=chain.chain_id, namespace=registry, key=key)
        return await query.GetRecord(query_pb2.GetRecordRequest(ref=ref, purpose="benchmark"))

    return read


async def run(reads: int, seconds: float, in_process: bool) -> dict[str, Any]:
    async with contextlib.AsyncExitStack() as stack:
        state = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="evm-bench-")))
        devnet = EvmDevnet(state / "evm", block_time=None)
        info = await devnet.up(lambda _line: None)
        stack.push_async_callback(devnet.down)
        chain = json_format.ParseDict(info.chain, chains_pb2.Chain())
        anchor = chain.trust_anchor.evm
        registry, owner = info.extra["registry_address"], info.extra["owner"]["address"]
        w3 = AsyncWeb3(AsyncHTTPProvider(info.endpoints["rpc"]))
        stack.push_async_callback(w3.provider.disconnect)
        keys = [f"bench-{i}" for i in range(KEYS)]
        for key in keys:
            value = json.dumps(
                {"licence_no": key, "holder": "Tonglian Tea Co.", "status": "active"}
            ).encode()
            await contracts.put_record(w3, registry, owner, key, SCHEMA, value)
        await w3.provider.make_request("anvil_mine", [anchor.finality_depth])

        adapter = create_adapter(
            adapter_context(chain, timeout=10.0, secrets=read_local(chain.adapter))
        )
        stack.push_async_callback(adapter.close)

        async def verified_in_process(i: int) -> None:
            resp = await adapter.read(registry, keys[i % KEYS])
            trusted = await attest_header(anchor, resp.proof.evm.block_number, timeout=5)
            verify_evm_record(resp.record, resp.proof.evm, anchor, trusted)

        registry_contract = w3.eth.contract(address=registry, abi=contracts.abi("RecordRegistry"))

        async def direct(i: int) -> None:
            key_id = keccak(keys[i % KEYS].encode())
            block = await registry_contract.functions.blockOf(key_id).call()
            logs = await registry_contract.events.RecordWritten().get_logs(
                from_block=block, to_block=block, argument_filters={"keyId": key_id}
            )
            assert logs[-1]["args"]["value"]

        path = "in-process (adapter.read + attest_header + verify_evm_record)"
        verified_call: Callable[[int], Awaitable[Any]] = verified_in_process
        hub_read = None if in_process else await _hub_reader(chain, state, stack)
        if hub_read is not None:
            path = "hub GetRecord over gRPC (tonglian serve)"

            async def via_hub(i: int) -> None:
                await hub_read(keys[i % KEYS])

            verified_call = via_hub

        rpc = EvmRpc(info.endpoints["rpc"], 10)
        stack.push_async_callback(rpc.close)
        topic = adapter_contracts.event_topic("RecordRegistry", "RecordWritten")

        async def direct_raw(i: int) -> None:
            # The cheapest honest read without the hub: the registry's pointer (eth_call)
            # and the key's RecordWritten logs (eth_getLogs) asked at once, on the one
            # persistent connection of EvmRpc; the value is the log of the pointed block.
            key_id = keccak(keys[i % KEYS].encode())
            data = adapter_contracts.encode_call("RecordRegistry", "blockOf", [key_id])
            result, logs = await asyncio.gather(
                rpc.call(registry, data, "latest"),
                rpc.logs(
                    {"address": registry, "topics": [topic, "0x" + key_id.hex()],
                     "fromBlock": "0x0", "toBlock": "latest"}
                ),
            )  # fmt: skip
            (block,) = adapter_contracts.decode_result("RecordRegistry", "blockOf", result)
            assert any(int(log["blockNumber"], 16) == block for log in logs)

        timed = await interleaved([verified_call, direct, direct_raw], reads)
        verified, plain, raw = (
            dict(zip(("p50_ms", "p99_ms"), p50_p99_ms(t), strict=True)) for t in timed
        )
        offline = "not checked"
        if hub_read is not None:
            offline = await _offline_check(hub_read, keys[0], chain)

        proofs = []
        for key in keys:
            resp = await adapter.read(registry, key)
            trusted = await attest_header(anchor, resp.proof.evm.block_number, timeout=5)
            proofs.append((resp.record, resp.proof.evm, trusted))

    def verify_all() -> int:
        for record, proof, trusted in proofs:
            verify_evm_record(record, proof, anchor, trusted)
        return len(proofs)

    def raw_all() -> int:
        for record, proof, _ in proofs:
            _raw_work(proof, record, anchor.chain_id)
        return len(proofs)

    verify_rate, raw_rate = alternating_rates(verify_all, raw_all, seconds)
    return {
        "verified_path": path,
        "bundle_offline_verify": offline,
        "reads": reads,
        "verified_read_p50_ms": round(verified["p50_ms"], 3),
        "verified_read_p99_ms": round(verified["p99_ms"], 3),
        "direct_read_p50_ms": round(plain["p50_ms"], 3),
        "direct_read_p99_ms": round(plain["p99_ms"], 3),
        "p50_ratio": round(verified["p50_ms"] / plain["p50_ms"], 2),
        "p99_ratio": round(verified["p99_ms"] / plain["p99_ms"], 2),
        "direct_raw_rpc_p50_ms": round(raw["p50_ms"], 3),
        "direct_raw_rpc_p99_ms": round(raw["p99_ms"], 3),
        "p50_ratio_vs_raw_rpc": round(verified["p50_ms"] / raw["p50_ms"], 2),
        "p99_ratio_vs_raw_rpc": round(verified["p99_ms"] / raw["p99_ms"], 2),
        "verified_proofs_per_s": round(verify_rate, 1),
        "raw_keccak_rlp_proofs_per_s": round(raw_rate, 1),
        "verify_vs_raw_ratio": round(verify_rate / raw_rate, 3),
        "proof_nodes_per_proof": round(
            statistics.mean(
                len(p.account_proof) + len(p.storage_proof) + len(p.version_proof)
                for _, p, _ in proofs
            ),
            1,
        ),
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description="EVM verified read vs direct read, and verifier rate")
    p.add_argument("--reads", type=int, default=200, help="timed reads per path")
    p.add_argument("--seconds", type=float, default=2.0, help="time per throughput measurement")
    p.add_argument("--in-process", action="store_true", help="skip the hub; time the pieces")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = p.parse_args(argv)
    r = asyncio.run(run(args.reads, args.seconds, args.in_process))
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"verified read: {r['verified_path']}")
    print(
        f"  verified p50 {r['verified_read_p50_ms']} ms, p99 {r['verified_read_p99_ms']} ms; "
        f"direct p50 {r['direct_read_p50_ms']} ms, p99 {r['direct_read_p99_ms']} ms"
    )
    print(f"  verified / direct: p50 x{r['p50_ratio']}, p99 x{r['p99_ratio']}")
    print(
        f"  direct over raw JSON-RPC (same 2 calls, no web3 contract layer): "
        f"p50 {r['direct_raw_rpc_p50_ms']} ms, p99 {r['direct_raw_rpc_p99_ms']} ms; "
        f"verified / that: p50 x{r['p50_ratio_vs_raw_rpc']}, p99 x{r['p99_ratio_vs_raw_rpc']}"
    )
    print(f"  hub bundle re-verified offline: {r['bundle_offline_verify']}")
    print(
        f"verifier: {r['verified_proofs_per_s']} proofs/s vs raw keccak+RLP "
        f"{r['raw_keccak_rlp_proofs_per_s']} proofs/s = {r['verify_vs_raw_ratio']} of the bound "
        f"({r['proof_nodes_per_proof']} trie nodes per proof)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
