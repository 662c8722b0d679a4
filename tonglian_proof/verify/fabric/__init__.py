"""Trusted Hyperledger Fabric proof verification: pure functions, no I/O.

`verify_fabric_record` checks a record's FabricTxProof against a channel trust anchor;
`report.verify_blocks` judges every transaction of raw blocks for operators.
Inputs and outputs are bytes, protobuf messages and strings, so calls can run in a
process pool.
"""

from tonglian_proof.verify.fabric.verifier import verify_fabric_record

__all__ = ["verify_fabric_record"]
