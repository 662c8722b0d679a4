"""National-cryptography mode end to end through the `tonglian` command: a reference
ledger with SM2 validators and SM3 hashing, a real hub, offline verification."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from google.protobuf import json_format

from devnets.custom.writer import write_record
from hub.cli import exit_codes
from tests.integration.cli.runner import Cli
from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.bundle import bundle_digest, encode_bundle

pytestmark = pytest.mark.integration


def test_sm2_ledger_registers_reads_and_verifies_offline(cli: Cli, tmp_path: Path) -> None:
    info = json.loads(cli("devnet", "up", "custom", "--crypto", "sm2", "--json").stdout)[0]
    status = json.loads(cli("devnet", "status", "custom", "--json").stdout)
    assert status[0]["running"] is True
    assert status[0]["crypto"] == "sm2"

    anchor = json_format.ParseDict(info["chain"]["trustAnchor"], chains_pb2.TrustAnchor())
    sm = anchor.signed_merkle
    assert sm.digest == chains_pb2.LEDGER_DIGEST_SM3
    assert [(v.algorithm, len(v.sm2_public_key), v.sm2_user_id) for v in sm.validators] == [
        (chains_pb2.SIGNATURE_ALGORITHM_SM2, 65, "1234567812345678")
    ] * 4
    anchor_file = tmp_path / "anchor.json"
    anchor_file.write_text(json_format.MessageToJson(anchor))

    added = json.loads(cli("chains", "add", "--from-devnet", "custom", "--json").stdout)
    assert added["chain_id"] == "custom-1"
    shown = cli("chains", "show", "custom-1", "--json").stdout
    assert "SIGNATURE_ALGORITHM_SM2" in shown and "LEDGER_DIGEST_SM3" in shown

    asyncio.run(
        write_record(
            info["endpoints"]["http"],
            "licences",
            "GM-1",
            "gov.license.business/v1",
            {"status": "active"},
        )
    )
    bundle_file = tmp_path / "gm1.pb"
    out = json.loads(
        cli(
            "query", "custom-1/licences/GM-1", "--purpose", "t", "--out", str(bundle_file), "--json"
        ).stdout
    )
    assert out["value"] == {"status": "active"}
    assert out["verification"]["verified"] is True

    report = json.loads(
        cli("verify", str(bundle_file), "--anchor", str(anchor_file), "--json").stdout
    )
    assert report["verified"] is True
    signed = [c for c in report["checks"] if "validators signed block" in c]
    assert len(signed) == 1
    assert signed[0].count("(SM2/SM3, user id '1234567812345678')") == 3
    assert any(c.endswith("steps of SM3") for c in report["checks"])

    # A flipped byte in any signature is refused by name, even with the digest redone.
    bundle = records_pb2.ProofBundle.FromString(bundle_file.read_bytes())
    for i, sig in enumerate(bundle.proof.signed_merkle.signatures):
        bad = records_pb2.ProofBundle()
        bad.CopyFrom(bundle)
        target = bad.proof.signed_merkle.signatures[i]
        target.signature = bytes([target.signature[0] ^ 0x01]) + target.signature[1:]
        bad.digest = bundle_digest(bad)
        bad_file = tmp_path / f"bad-{i}.pb"
        bad_file.write_bytes(encode_bundle(bad))
        refused = cli(
            "verify", str(bad_file), "--anchor", str(anchor_file), "--json", check=exit_codes.FAILED
        )
        verdict = json.loads(refused.stdout)
        assert verdict["verified"] is False
        assert (
            f"SM2 signature of validator '{sig.validator_id}' does not verify over the header"
            in verdict["reason"]
        )


def test_crypto_mode_is_fixed_once_chosen(cli: Cli) -> None:
    cli("devnet", "up", "custom", "--crypto", "sm2", "--json")
    cli("devnet", "down", "custom")
    r = cli("devnet", "up", "custom", "--crypto", "ed25519", check=exit_codes.FAILED)
    assert "the custom ledger in" in r.stderr and "runs in sm2 mode" in r.stderr
    r = cli("devnet", "up", "evm", "--crypto", "sm2", check=exit_codes.USAGE)
    assert "--crypto applies to the custom ledger only" in r.stderr
