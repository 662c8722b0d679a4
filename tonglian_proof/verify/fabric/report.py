"""Raw-block verification for operators: a verdict for every transaction of some blocks.

A user-chaincode transaction is valid only when every check passes (data hash,
orderer signatures per BlockValidation, creator and endorser signatures and
certificates, the chaincode's endorsement policy) and the block's validation flag
says VALID. The flag alone never makes a transaction valid. Config transactions and
system-chaincode transactions get `valid = None` and are not counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tonglian_proof.errors import MalformedInput, ProofRejected
from tonglian_proof.verify.fabric import protos
from tonglian_proof.verify.fabric.block import (
    Block,
    check_data_hash,
    check_orderer_signatures,
    parse_block,
    validation_flags,
)
from tonglian_proof.verify.fabric.config import ChannelConfig, parse_config_block
from tonglian_proof.verify.fabric.policy import Policy
from tonglian_proof.verify.fabric.transaction import (
    SYSTEM_CHAINCODES,
    Header,
    check_endorsement_policies,
    check_signatures,
    check_structure,
    parse_endorser_tx,
    parse_header,
)
from tonglian_proof.verify.fabric.verifier import parse_policies


@dataclass(frozen=True)
class TxVerdict:
    """The verdict on one transaction; `valid` is None for transactions not counted."""

    block: int
    index: int
    tx_id: str
    chaincode: str
    valid: bool | None
    flag: str
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "block": self.block,
            "index": self.index,
            "tx_id": self.tx_id,
            "chaincode": self.chaincode,
            "valid": self.valid,
            "flag": self.flag,
            "reasons": list(self.reasons),
        }


def _block_checks(
    block: Block, config: ChannelConfig, headers: Sequence[Header | None]
) -> list[str]:
    reasons: list[str] = []
    try:
        check_data_hash(block)
    except ProofRejected as exc:
        reasons.append(exc.reason)
    times = [h.time for h in headers if h is not None]
    at = max(times) if times else datetime.now(UTC)
    try:
        check_orderer_signatures(block, config, at)
    except ProofRejected as exc:
        reasons.append(exc.reason)
    return reasons


def _judge(
    header: Header,
    config: ChannelConfig,
    policies: Mapping[str, Policy | str],
    block_reasons: list[str],
) -> tuple[str, bool | None, list[str]]:
    """Return (chaincode, valid, reasons) for one parsed envelope."""
    if header.type == protos.common.CONFIG:
        return "", None, ["config transaction: not a chaincode transaction, not counted"]
    if header.type != protos.common.ENDORSER_TRANSACTION:
        return "", None, [f"header type {header.type}: not an endorser transaction, not counted"]
    try:
        tx = parse_endorser_tx(header)
    except ProofRejected as exc:
        return "", False, [*block_reasons, exc.reason]
    if tx.chaincode in SYSTEM_CHAINCODES:
        return tx.chaincode, None, [f"system chaincode {tx.chaincode}: not counted"]
    reasons = list(block_reasons)
    try:
        check_structure(tx, config)
        _, endorsers = check_signatures(tx, config)
        check_endorsement_policies(tx, endorsers, config, policies)
    except ProofRejected as exc:
        reasons.append(exc.reason)
    return tx.chaincode, not reasons, reasons


def verify_blocks(
    config_block: bytes, blocks: Sequence[bytes], policies: Mapping[str, str] | None = None
) -> list[TxVerdict]:
    """Judge every transaction of `blocks` against the channel config in `config_block`.

    `policies` maps chaincode names to endorsement policies (signature syntax,
    `ImplicitMeta ...` or a `/Channel/...` reference); other chaincodes get
    `/Channel/Application/Endorsement`. Raises MalformedInput for unusable input.
    """
    config = parse_config_block(config_block)
    parsed_policies = parse_policies(dict(policies or {}))
    parsed: list[Block] = []
    for i, data in enumerate(blocks):
        try:
            parsed.append(parse_block(data))
        except ProofRejected as exc:
            raise MalformedInput(f"block file {i + 1}: {exc.reason}") from exc
    verdicts: list[TxVerdict] = []
    for block in parsed:
        headers: list[Header | None] = []
        header_errors: list[str] = []
        for i, env in enumerate(block.envelopes):
            try:
                headers.append(parse_header(block.number, i, env))
                header_errors.append("")
            except ProofRejected as exc:
                headers.append(None)
                header_errors.append(exc.reason)
        block_reasons = _block_checks(block, config, headers)
        flags = validation_flags(block)
        for i, header in enumerate(headers):
            flag = protos.validation_code_name(flags[i]) if flags is not None else "MISSING"
            if header is None:
                verdicts.append(
                    TxVerdict(
                        block.number, i, "", "", False, flag, (*block_reasons, header_errors[i])
                    )
                )
                continue
            chaincode, valid, reasons = _judge(header, config, parsed_policies, block_reasons)
            if valid is not None and flag != "VALID":
                reasons.append(f"{header.label}: the block's validation flag is {flag}")
                valid = False
            verdicts.append(
                TxVerdict(block.number, i, header.tx_id, chaincode, valid, flag, tuple(reasons))
            )
    return verdicts
