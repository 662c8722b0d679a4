"""`verify_fabric_record`: a Record and its FabricTxProof against a channel's trust anchor.

Order of checks: trust anchor, block (data hash, orderer signatures per
BlockValidation), transaction (binding, creator and endorser signatures, endorsement
policy), record fields against the write set, then the validation code through
signed qscc answers. The block's own validation flag is reported, never relied on.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tonglian_proof.errors import MalformedInput, ProofRejected
from tonglian_proof.verify.fabric import protos
from tonglian_proof.verify.fabric.block import (
    check_data_hash,
    check_orderer_signatures,
    parse_block,
    validation_flags,
)
from tonglian_proof.verify.fabric.config import ChannelConfig, load_config
from tonglian_proof.verify.fabric.policy import Policy, parse_policy_text
from tonglian_proof.verify.fabric.qscc import CLOCK_SKEW, check_qscc
from tonglian_proof.verify.fabric.record import check_record
from tonglian_proof.verify.fabric.transaction import (
    parse_endorser_tx,
    parse_header,
    verify_endorser_tx,
)

_policy_cache: OrderedDict[tuple[tuple[str, str], ...], dict[str, Policy | str]] = OrderedDict()


def parse_policies(texts: Mapping[str, str]) -> dict[str, Policy | str]:
    """Parse `{chaincode: policy text}`; raises PolicySyntaxError (an MalformedInput)."""
    key = tuple(sorted(texts.items()))
    hit = _policy_cache.get(key)
    if hit is not None:
        return hit
    parsed: dict[str, Policy | str] = {}
    for name, text in texts.items():
        try:
            parsed[name] = parse_policy_text(text)
        except MalformedInput as exc:
            raise MalformedInput(f"endorsement policy of chaincode {name}: {exc}") from exc
    _policy_cache[key] = parsed
    if len(_policy_cache) > 64:
        _policy_cache.popitem(last=False)
    return parsed


def _anchor(anchor: Any) -> tuple[ChannelConfig, dict[str, Policy | str]]:
    try:
        config = load_config(bytes(anchor.config_block))
        policies = parse_policies(dict(anchor.endorsement_policies))
    except MalformedInput as exc:
        raise ProofRejected(f"trust anchor unusable: {exc}") from exc
    if anchor.channel and str(anchor.channel) != config.channel:
        raise ProofRejected(
            f"trust anchor is for channel {anchor.channel!r} but its config block is "
            f"for {config.channel!r}"
        )
    return config, policies


def verify_fabric_record(
    record: Any, proof: Any, anchor: Any, *, now: datetime | None = None
) -> list[str]:
    """Verify a `records_pb2.Record` with its `FabricTxProof` against a `FabricTrustAnchor`.

    Returns the checks that passed, in order, for people to read; raises ProofRejected
    naming the first check that failed. `now` (UTC; default the clock) bounds the
    timestamps of the transaction and of the qscc queries.
    """
    now = now or datetime.now(UTC)
    config, policies = _anchor(anchor)
    checks = [f"trust anchor: channel {config.channel}, config block {config.block_number}"]
    block = parse_block(bytes(proof.block))
    checks.append(check_data_hash(block))
    index = int(proof.tx_index)
    if index >= len(block.envelopes):
        raise ProofRejected(
            f"block {block.number} has {len(block.envelopes)} transactions; no index {index}"
        )
    header = parse_header(block.number, index, block.envelopes[index])
    if header.time > now + CLOCK_SKEW:
        raise ProofRejected(f"{header.label} is dated {header.time.isoformat()}, in the future")
    tx = parse_endorser_tx(header)
    _, block_check = check_orderer_signatures(block, config, header.time)
    checks.append(block_check)
    checks.extend(verify_endorser_tx(tx, config, policies).checks)
    checks.extend(check_record(record, tx, config.channel))
    flags = validation_flags(block)
    if flags is not None:
        name = protos.validation_code_name(flags[index])
        checks.append(f"{header.label}: block metadata flag says {name} (unsigned; not relied on)")
    code, qscc_checks = check_qscc(
        list(proof.qscc_answers), config, header, int(anchor.qscc_min_orgs), now
    )
    if code != protos.transaction.VALID:
        raise ProofRejected(
            f"{header.label} is not valid: peers attest validation code "
            f"{protos.validation_code_name(code)}"
        )
    checks.extend(qscc_checks)
    return checks
