"""`tonglian demo`: the whole path on the embedded default, narrated with timings.

Starts the reference custom ledger and a hub as real processes, registers the
ledger with its trust anchors, writes a record on the ledger, queries it over
gRPC, verifies the bundle offline and shows that a flipped byte is caught.
Everything it started is stopped at the end (or on Ctrl-C), unless `--keep`.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from google.protobuf.json_format import ParseDict

from devnets.custom.network import CustomDevnet
from devnets.custom.writer import write_record
from hub.bundle import decode_bundle, encode_bundle, verify_bundle
from hub.cli import exit_codes
from hub.cli.connection import open_channel
from hub.cli.hub_process import HubProcess
from hub.cli.output import Progress
from hub.cli.query import print_record
from hub.errors import InvalidInput, ProofRejected
from tonglian.v1 import chains_pb2, chains_pb2_grpc, query_pb2, query_pb2_grpc, records_pb2

LICENCE_KEY = "91310000MA1K000001"
LICENCE = {
    "licence_no": LICENCE_KEY,
    "holder": "上海通链科技有限公司",
    "status": "active",
    "issued_on": "2026-11-27",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="run the end-to-end demo on local processes")
    p.add_argument("--out-dir", type=Path, default=Path("demo-out"), help="where bundles go")
    p.add_argument("--keep", action="store_true", help="leave the ledger and hub running")
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    step = Progress()
    work = Path(tempfile.mkdtemp(prefix="tonglian-demo-"))
    devnet = CustomDevnet(work / "devnets" / "custom")
    hub = HubProcess(work / "hub")
    keep = False
    try:
        step("starting the reference custom ledger (4 validators, 3 must sign each block)")
        info = await devnet.up(lambda line: step(f"  ledger: {line}"))
        url = info.endpoints["http"]
        step(f"starting the hub on {hub.address} (mutual TLS, development CA in {hub.pki_dir})")
        hub.start()
        await hub.wait_serving()
        step("hub is SERVING (gRPC health)")

        chain = chains_pb2.Chain()
        ParseDict(info.chain, chain)
        async with open_channel(hub.address, hub.credentials) as channel:
            registry = chains_pb2_grpc.ChainRegistryStub(channel)
            await registry.RegisterChain(chains_pb2.RegisterChainRequest(chain=chain))
            step(f"registered chain {chain.chain_id} with its validator keys as trust anchors")

            tx = await write_record(
                url, "licences", LICENCE_KEY, "gov.license.business/v1", LICENCE
            )
            step(
                f"the market regulator wrote licence {LICENCE_KEY} (tx {tx.tx_id}, block {tx.block_height})"
            )

            query = query_pb2_grpc.QueryStub(channel)
            ref = records_pb2.RecordRef(
                chain_id=chain.chain_id, namespace="licences", key=LICENCE_KEY
            )
            resp = await query.GetRecord(
                query_pb2.GetRecordRequest(ref=ref, purpose="business-registration")
            )
            step("queried it through the hub over gRPC; the hub verified the proof:")
        print()
        print_record(resp.record)
        print()

        args.out_dir.mkdir(parents=True, exist_ok=True)
        bundle_path = args.out_dir / "licence.bundle.pb"
        data = encode_bundle(resp.record.bundle)
        bundle_path.write_bytes(data)
        verdict = verify_bundle(decode_bundle(bundle_path.read_bytes()), chain.trust_anchor)
        step(f"wrote {bundle_path} and re-verified it offline: {len(verdict.checks)} checks passed")

        tampered = bytearray(data)
        tampered[len(tampered) // 2] ^= 0x01
        tampered_path = args.out_dir / "licence.tampered.pb"
        tampered_path.write_bytes(bytes(tampered))
        try:
            verify_bundle(decode_bundle(bytes(tampered)), chain.trust_anchor)
            step("ERROR: a tampered bundle verified")
            return exit_codes.FAILED
        except (InvalidInput, ProofRejected) as exc:
            step(f"flipped one byte into {tampered_path}: refused ({exc})")
        print()
        print(f"Check them yourself: tonglian verify {bundle_path}   (and {tampered_path})")
        keep = args.keep
        if keep:
            print(f"Still running (--keep): hub {hub.address}, ledger {url}; state in {work}")
            print(
                f"Stop with: kill {hub.proc.pid if hub.proc else ''}; "
                f"TONGLIAN_STATE_DIR={work / 'devnets'} tonglian devnet down custom"
            )
        return exit_codes.OK
    finally:
        if not keep:
            hub.stop()
            await devnet.down()
            shutil.rmtree(work, ignore_errors=True)
            step("stopped the hub and the ledger")
