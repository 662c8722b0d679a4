"""Fabric verifier throughput against the raw ECDSA P-256 bound, on the captured blocks.

For every VALID user-chaincode transaction of tests/data/fabric it runs what the hub
runs per record, minus the qscc answers (which the vectors do not have): parse the
block, data hash, orderer signatures against BlockValidation, creator and endorser
signatures, certificates, endorsement policy, record against the write set. One
process, so the figures are per core.

The bound: each transaction needs creator + endorsements + its share of the block's
orderer signature(s) ECDSA verifications; raw verifications per second are measured
in the same run on the same keys, messages and signatures with `cryptography`.

    .venv/bin/python bench/fabric_verify.py [--seconds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from tonglian.v1 import records_pb2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stats import alternating_rates  # noqa: E402
from tonglian_proof.verify.fabric import protos  # noqa: E402
from tonglian_proof.verify.fabric.block import (  # noqa: E402
    check_data_hash,
    check_orderer_signatures,
    header_bytes,
    parse_block,
)
from tonglian_proof.verify.fabric.config import load_config  # noqa: E402
from tonglian_proof.verify.fabric.msp import load_der, parse_serialized_identity  # noqa: E402
from tonglian_proof.verify.fabric.record import check_record, schema_of  # noqa: E402
from tonglian_proof.verify.fabric.transaction import (  # noqa: E402
    parse_endorser_tx,
    parse_header,
    verify_endorser_tx,
)
from tonglian_proof.verify.fabric.verifier import parse_policies  # noqa: E402
from tonglian_proof.verify.verified_cache import clear_verified_caches  # noqa: E402

DATA = ROOT / "tests" / "data" / "fabric"
POLICIES = {"records": "AND('Org1MSP.peer','Org2MSP.peer')"}


def _cases() -> list[tuple[bytes, int, Any, float]]:
    """(block bytes, tx index, record, orderer signatures per tx) for every VALID user tx."""
    manifest = json.loads((DATA / "manifest.json").read_text())
    cases = []
    for b in manifest["blocks"]:
        data = (DATA / b["file"]).read_bytes()
        for t in b["transactions"]:
            if (
                t.get("chaincode") in ("records", "records_default")
                and t["validation_code"] == "VALID"
            ):
                w = t["writes"][0]
                value = b"" if w["is_delete"] else w["value"].encode()
                rec = records_pb2.Record(
                    value=value,
                    schema=schema_of(value),
                    deleted=w["is_delete"],
                    version=(b["number"] << 32) | t["index"],
                    block_height=b["number"],
                    tx_id=t["tx_id"],
                )
                rec.ref.namespace = f"govchannel:{w['namespace']}"
                rec.ref.key = w["key"]
                blk = parse_block(data)
                h = parse_header(blk.number, t["index"], blk.envelopes[t["index"]])
                rec.commit_time.seconds, rec.commit_time.nanos = h.seconds, h.nanos
                cases.append((data, t["index"], rec, len(b["signers"]) / b["tx_count"]))
    return cases


def verify_one(config_block: bytes, data: bytes, index: int, record: Any) -> None:
    """The per-record work of verify_fabric_record, without the qscc step."""
    config = load_config(config_block)
    policies = parse_policies(POLICIES)
    block = parse_block(data)
    check_data_hash(block)
    header = parse_header(block.number, index, block.envelopes[index])
    tx = parse_endorser_tx(header)
    check_orderer_signatures(block, config, header.time)
    verify_endorser_tx(tx, config, policies)
    check_record(record, tx, config.channel)


def _raw_signatures(cases: list[tuple[bytes, int, Any, float]]) -> list[tuple[Any, bytes, bytes]]:
    """(public key, signature, message) of every signature the cases need, once each."""
    out: list[tuple[Any, bytes, bytes]] = []
    seen_blocks: set[int] = set()

    def key(serialized: bytes) -> Any:
        return load_der(parse_serialized_identity(serialized)[1]).public_key()

    for data, index, _, _ in cases:
        block = parse_block(data)
        h = parse_header(block.number, index, block.envelopes[index])
        tx = parse_endorser_tx(h)
        out.append((key(h.creator), h.signature, h.payload))
        out.extend((key(e.endorser), e.signature, tx.prp + e.endorser) for e in tx.endorsements)
        if block.number not in seen_blocks:
            seen_blocks.add(block.number)
            md = protos.common.Metadata.FromString(block.metadata[0])
            for s in md.signatures:
                creator = protos.common.SignatureHeader.FromString(s.signature_header).creator
                msg = md.value + s.signature_header + header_bytes(block)
                out.append((key(creator), bytes(s.signature), msg))
    return out


def run(seconds: float) -> dict[str, float | int]:
    config_block = (DATA / "config-block.pb").read_bytes()
    cases = _cases()
    # Per transaction: creator + its endorsements + its share of the block's orderer signatures.
    counts = []
    for data, index, _, share in cases:
        block = parse_block(data)
        tx = parse_endorser_tx(parse_header(block.number, index, block.envelopes[index]))
        counts.append(1 + len(tx.endorsements) + share)
    sigs_per_tx = sum(counts) / len(counts)
    raw = _raw_signatures(cases)
    algo = ec.ECDSA(hashes.SHA256())

    def raw_batch() -> int:
        for k, sig, msg in raw:
            k.verify(sig, msg, algo)
        return len(raw)

    def tx_batch() -> int:
        # Each batch reads every block afresh: a block's orderer signatures are verified
        # once for all its transactions (the share the bound counts), never carried over
        # from an earlier batch.
        clear_verified_caches()
        for data, index, rec, _ in cases:
            verify_one(config_block, data, index, rec)
        return len(cases)

    raw_rate, tx_rate = alternating_rates(raw_batch, tx_batch, seconds)
    bound = raw_rate / sigs_per_tx
    return {
        "transactions": len(cases),
        "signatures_per_tx": round(sigs_per_tx, 3),
        "raw_ecdsa_p256_verify_per_s": round(raw_rate, 1),
        "tx_bound_per_s": round(bound, 1),
        "verified_tx_per_s": round(tx_rate, 1),
        "ratio": round(tx_rate / bound, 3),
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--seconds", type=float, default=3.0, help="time per measurement (default 3)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = p.parse_args(argv)
    r = run(args.seconds)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"Fabric record verification, {r['transactions']} real v3.1.5 transactions, one core")
    print(f"  raw ECDSA P-256 verifications/s         {r['raw_ecdsa_p256_verify_per_s']:>10.1f}")
    print(f"  signatures needed per tx                {r['signatures_per_tx']:>10.3f}")
    print(f"  bound: raw / signatures per tx (tx/s)   {r['tx_bound_per_s']:>10.1f}")
    print(f"  verified transactions/s                 {r['verified_tx_per_s']:>10.1f}")
    print(f"  ratio to the raw bound                  {r['ratio'] * 100:>9.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
