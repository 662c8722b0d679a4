"""SM2 verification throughput of the signed-Merkle verifier against gmalglib's bare bound.

- bound: gmalglib's SM2 verify of one r ‖ s over the signed header message, on a key
  object built once, in a loop (what the library can do at best, one core);
- signature: tonglian_proof.crypto.sm2.verify on the same inputs;
- record: verify_signed_merkle_record on SM2/SM3 proofs (k signatures per header and an
  SM3 Merkle path of a 64-record block, built with the reference ledger's code), counted
  as k signature verifications each, against the same bound.
Timed in alternation on CPU time, pinned to one core.

    .venv/bin/python bench/sm2_verify.py [--seconds 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "proto" / "gen"))

from gmalglib.sm2 import SM2  # noqa: E402
from google.protobuf.timestamp_pb2 import Timestamp  # noqa: E402

from bench.machine import describe  # noqa: E402
from bench.stats import alternating_rates, ratio  # noqa: E402
from devnets.custom.ledger import validators  # noqa: E402
from devnets.custom.ledger.header import Header, signing_message  # noqa: E402
from devnets.custom.ledger.merkle import LeafFields, leaf_hash, merkle_paths  # noqa: E402
from devnets.custom.network import anchored_validator  # noqa: E402
from tonglian.v1 import chains_pb2, records_pb2  # noqa: E402
from tonglian_proof.crypto import sm2  # noqa: E402
from tonglian_proof.verify.signed_merkle import verify_signed_merkle_record  # noqa: E402

K, N, RECORDS, TIME_MS = 3, 4, 64, 1_732_670_000_000
BATCH = 50


def proofs() -> tuple[chains_pb2.SignedMerkleTrustAnchor, list[Any]]:
    """(anchor, [(record, proof)]) of one SM2/SM3 block built by the reference ledger's code."""
    vset = validators.load_doc(validators.generate("bench-sm2", N, "sm2"))
    fields = [
        LeafFields("bench-sm2", "c", f"k{i}", "s/v1", f'{{"i":{i}}}', 1, False, f"{i:032x}")
        for i in range(RECORDS)
    ]
    root, paths = merkle_paths([leaf_hash(f, vset.hash) for f in fields], vset.hash)
    header = Header("bench-sm2", 5, "00" * 32, root.hex(), TIME_MS, RECORDS).to_bytes()
    sigs = [
        records_pb2.ValidatorSignature(validator_id=v.id, signature=v.sign(header))
        for v in vset.signers(K)
    ]
    out = []
    for f, path in zip(fields, paths, strict=True):
        record = records_pb2.Record(
            ref=records_pb2.RecordRef(chain_id="gm", namespace=f.collection, key=f.key),
            schema=f.schema,
            value=f.value.encode(),
            version=f.version,
            block_height=5,
            tx_id=f.tx_id,
            commit_time=Timestamp(seconds=TIME_MS // 1000),
        )
        proof = records_pb2.SignedMerkleProof(
            header=header,
            signatures=sigs,
            leaf_index=len(out),
            path=[
                records_pb2.MerkleStep(sibling=s.sibling, sibling_on_left=s.sibling_on_left)
                for s in path
            ],
        )
        out.append((record, proof))
    anchor = chains_pb2.SignedMerkleTrustAnchor(
        ledger_id="bench-sm2",
        validators=[anchored_validator(v) for v in vset.keys],
        threshold=K,
        digest=chains_pb2.LEDGER_DIGEST_SM3,
    )
    return anchor, out


def run(seconds: float) -> dict[str, Any]:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    anchor, items = proofs()
    v = anchor.validators[0]
    header = items[0][1].header
    message = signing_message(header)
    sig = items[0][1].signatures[0].signature
    bare = SM2(pk=v.sm2_public_key, uid=v.sm2_user_id.encode())
    assert bare.verify(message, sig)

    def raw() -> int:
        for _ in range(BATCH):
            bare.verify(message, sig)
        return BATCH

    def ours() -> int:
        for _ in range(BATCH):
            sm2.verify(v.sm2_public_key, v.sm2_user_id, message, sig)
        return BATCH

    def records() -> int:
        for record, proof in items[: BATCH // K]:
            verify_signed_merkle_record(record, proof, anchor)
        return (BATCH // K) * K

    sig_rate, raw_rate = alternating_rates(ours, raw, seconds)
    rec_sig_rate, raw_rate2 = alternating_rates(records, raw, seconds)
    return {
        "machine": describe(),
        "signatures_per_header": K,
        "bound_verifies_per_s": round(raw_rate),
        "sm2_verifies_per_s": round(sig_rate),
        "sm2_ratio": ratio(sig_rate, raw_rate),
        "record_signature_verifies_per_s": round(rec_sig_rate),
        "verified_records_per_s": round(rec_sig_rate / K),
        "record_ratio": ratio(rec_sig_rate, raw_rate2),
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    r = run(args.seconds)
    if args.json:
        print(json.dumps(r))
    else:
        print(
            f"SM2 verify: {r['sm2_verifies_per_s']}/s vs bare gmalglib "
            f"{r['bound_verifies_per_s']}/s"
            f" ({r['sm2_ratio']:.0%}); records (k={K}, SM3 path): {r['verified_records_per_s']}/s ="
            f" {r['record_signature_verifies_per_s']} signatures/s ({r['record_ratio']:.0%})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
