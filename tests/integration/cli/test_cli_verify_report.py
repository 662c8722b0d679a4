"""What `tonglian verify` prints, line by line, for each proof kind, anchored or not.

Issue 27 (smaller items): under a NOT anchored verdict it printed "✓ block header
keccak256 equals the trusted block hash", and it named the hub that signed from a
certificate it had not checked. Now a fact is ✓ only when trust the reader gave stands
behind it; the others say "(not anchored)", and the signer is named as the hub only
under a --hub-key that checked it. The bundles are made here from the recorded vectors
(custom signed-Merkle blocks, an anvil storage proof, real Fabric blocks) and signed by a
statement key of our own; the CLI runs as a child process.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from google.protobuf import json_format

from hub.cli import exit_codes
from tests.integration.cli.runner import Cli
from tests.unit.verify import fabric_forge as ff
from tests.unit.verify.test_bundle_trust import VECTOR, merkle_bundle, signer
from tests.unit.verify.test_signed_merkle import anchor as merkle_anchor
from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.bundle import BUNDLE_FORMAT, bundle_digest, encode_bundle, sign_bundle

pytestmark = pytest.mark.integration

HUB = "OU=hub,CN=tonglian hub statement key"
NOT_CHECKED = f"  · signed by a certificate that names {HUB} (not checked: give --hub-key)"
OTHER_KEY = (
    f"  · signed by a certificate that names {HUB} (not checked: it is not a hub key you gave)"
)
HUB_CHECKED = [
    f"  ✓ hub signature by {HUB} over the bundle digest is intact",
    "  ✓ signer certificate is a hub certificate you trust",
]
INSIDE = (
    "not anchored: checked against the trust anchors inside the bundle, which anyone can "
    f"make; it is signed by a certificate that names {HUB}, which is not a hub key you "
    "gave: pass --anchor FILE (or keep anchors in --anchors DIR) or --hub-key FILE"
)


@dataclass(frozen=True)
class Made:
    bundle: Path
    anchor: Path
    signed_at: str


@pytest.fixture
def run(tmp_path: Path) -> Cli:
    """`tonglian` with an empty anchors folder: only what a test passes is trusted."""
    return Cli({**os.environ, "TONGLIAN_ANCHORS": str(tmp_path / "no-anchors")}, tmp_path)


@pytest.fixture
def hub_key(tmp_path: Path) -> Path:
    signer(tmp_path, "hub")
    return tmp_path / "hub" / "statement.crt"


def _write(tmp_path: Path, name: str, bundle: records_pb2.ProofBundle) -> Made:
    bundle.digest = bundle_digest(bundle)
    sign_bundle(bundle, signer(tmp_path, "hub"))
    path, anchor_file = tmp_path / f"{name}.pb", tmp_path / f"{name}-anchor.json"
    path.write_bytes(encode_bundle(bundle))
    anchor_file.write_text(json_format.MessageToJson(bundle.trust_anchor))
    signed_at = bundle.hub_signature.signed_at.ToDatetime()
    return Made(path, anchor_file, f"{signed_at:%Y-%m-%dT%H:%M:%SZ}")


def _merkle(tmp_path: Path) -> Made:
    return _write(tmp_path, "merkle", merkle_bundle(merkle_anchor()))


def _evm(tmp_path: Path) -> Made:
    """The recorded anvil read, with the attestation its endpoint gave the hub."""
    proof = json_format.ParseDict(VECTOR["proof"], records_pb2.EvmStorageProof())
    proof.attestations.add(
        endpoint=VECTOR["anchor"]["rpcEndpoints"][0],
        block_hash=proof.block_hash,
        head_number=VECTOR["head_number"],
    )
    anchor = chains_pb2.TrustAnchor(
        evm=json_format.ParseDict(VECTOR["anchor"], chains_pb2.EvmTrustAnchor())
    )
    return _write(
        tmp_path,
        "evm",
        records_pb2.ProofBundle(
            format=BUNDLE_FORMAT,
            record=json_format.ParseDict(VECTOR["record"], records_pb2.Record()),
            proof=records_pb2.Proof(evm=proof),
            chain_kind=chains_pb2.CHAIN_KIND_EVM,
            trust_anchor=anchor,
        ),
    )


def _fabric(tmp_path: Path) -> Made:
    """Transaction 0 of real block 7 (chaincode `records`, VALID), with qscc answers."""
    world = ff.world()
    block = ff.block_bytes(7)
    proof = records_pb2.FabricTxProof(block=block, tx_index=0)
    proof.qscc_answers.extend(world.answers(block, 0))
    return _write(
        tmp_path,
        "fabric",
        records_pb2.ProofBundle(
            format=BUNDLE_FORMAT,
            record=ff.record_for(block, 0),
            proof=records_pb2.Proof(fabric=proof),
            chain_kind=chains_pb2.CHAIN_KIND_FABRIC,
            trust_anchor=chains_pb2.TrustAnchor(fabric=world.anchor()),
        ),
    )


def _lines(run: Cli, made: Made, *args: str, code: int) -> list[str]:
    result = run("verify", str(made.bundle), *args, check=code)
    assert result.stderr == ""
    return result.stdout.splitlines()


MERKLE_FACTS = [
    "header of block 7 is canonical and names ledger 'ledger-under-test'",
    "3 of 4 validators signed block 7 (threshold 3): v1, v2, v3",
    "record block_height 7 and commit_time match the header",
    "leaf 1 of 3 reaches the signed merkle_root in 2 steps",
    "bundle digest matches its content",
]
MERKLE_UNANCHORED = [f"{fact} (not anchored)" for fact in MERKLE_FACTS]


def test_signed_merkle_facts_are_checked_only_under_trust_the_reader_gave(
    run: Cli, tmp_path: Path, hub_key: Path
) -> None:
    made = _merkle(tmp_path)
    head = "custom-1/licenses/L-1 version 2 (signed_merkle proof)"

    assert _lines(run, made, code=exit_codes.FAILED) == [
        f"{made.bundle}: consistent but NOT anchored: {head}",
        *(f"  · {fact}" for fact in MERKLE_UNANCHORED),
        NOT_CHECKED,
        INSIDE,
    ]
    assert _lines(run, made, "--anchor", str(made.anchor), code=exit_codes.OK) == [
        f"{made.bundle}: verified {head}",
        *(f"  ✓ {fact}" for fact in MERKLE_FACTS),
        NOT_CHECKED,
        "anchored in: the trust anchor you gave",
    ]
    assert _lines(run, made, "--hub-key", str(hub_key), code=exit_codes.OK) == [
        f"{made.bundle}: verified {head}",
        *(f"  ✓ {fact}" for fact in MERKLE_FACTS),
        *HUB_CHECKED,
        f"anchored in: the signature of hub {HUB}, a hub key you gave: the hub says it "
        f"verified this record against these anchors at {made.signed_at}",
    ]
    signer(tmp_path, "other")
    other = str(tmp_path / "other" / "statement.crt")
    assert _lines(
        run, made, "--anchor", str(made.anchor), "--hub-key", other, code=exit_codes.OK
    ) == [
        f"{made.bundle}: verified {head}",
        *(f"  ✓ {fact}" for fact in MERKLE_FACTS),
        OTHER_KEY,
        "anchored in: the trust anchor you gave",
    ]

    report = json.loads(run("verify", str(made.bundle), "--json", check=exit_codes.FAILED).stdout)
    assert report["checks"] == []
    assert report["unchecked"] == [
        *MERKLE_UNANCHORED,
        f"signed by a certificate that names {HUB} (not checked: give --hub-key)",
    ]
    assert (report["hub_signer"], report["hub_signed_at"]) == ("", None)
    assert report["unchecked_signer_certificate"] == HUB
    keyed = json.loads(run("verify", str(made.bundle), "--hub-key", str(hub_key), "--json").stdout)
    assert keyed["hub_signer"] == HUB and keyed["unchecked_signer_certificate"] == ""
    assert keyed["unchecked"] == []


EVM_STATE = (
    "account proof leads from stateRoot "
    "0x409d04dd8e13b0d20f447bdfc259bb230ae25daa4cebd1d9a1291a884412b1d7 to the registry "
    "(storageRoot 0xab06003dbf1209cdbd3210c3d9586b679ae46a54605f4b823fed7a99de8f6584"
)
EVM_REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
EVM_FACTS = [
    "block number 10 matches the header",
    "block 10 is final: 2 block(s) on top, 2 required",
    f"proof account is the registry {EVM_REGISTRY}",
]
EVM_SLOTS = [
    "storage proof: digest slot of 'lic-3' equals the record's keccak256 digest",
    "storage proof: version slot of 'lic-3' equals version 2",
    "bundle digest matches its content",
]
ATTESTED = "1 of 1 RPC endpoints attested to the hub, 1 required"
EVM_UNANCHORED = [
    f"  · block header keccak256 equals the block hash the bundle carries ({ATTESTED}; "
    "not anchored)",
    *(f"  · {fact} (not anchored)" for fact in EVM_FACTS),
    f"  · {EVM_STATE}; not anchored)",
    *(f"  · {fact} (not anchored)" for fact in EVM_SLOTS),
    NOT_CHECKED,
]


def test_evm_block_hash_the_bundle_carries_is_never_called_trusted(
    run: Cli, tmp_path: Path, hub_key: Path
) -> None:
    made = _evm(tmp_path)
    head = f"evm-1/{EVM_REGISTRY}/lic-3 version 2 (evm proof)"

    assert _lines(run, made, code=exit_codes.FAILED) == [
        f"{made.bundle}: consistent but NOT anchored: {head}",
        *EVM_UNANCHORED,
        INSIDE,
    ]
    # The reader's anchor, but an endpoint-quorum chain: the block hash is still the bundle's.
    assert _lines(run, made, "--anchor", str(made.anchor), code=exit_codes.FAILED) == [
        f"{made.bundle}: consistent but NOT anchored: {head}",
        *EVM_UNANCHORED,
        "not anchored: the EVM block hash is not authenticated: an endpoint-quorum anchor "
        "cannot vouch for it offline; name a node you trust (--rpc URL) or the hub's key "
        "(--hub-key)",
    ]
    assert _lines(
        run, made, "--anchor", str(made.anchor), "--hub-key", str(hub_key), code=exit_codes.OK
    ) == [
        f"{made.bundle}: verified {head}",
        f"  ✓ block header keccak256 equals the trusted block hash ({ATTESTED})",
        *(f"  ✓ {fact}" for fact in EVM_FACTS),
        f"  ✓ {EVM_STATE})",
        *(f"  ✓ {fact}" for fact in EVM_SLOTS),
        *HUB_CHECKED,
        "anchored in: the trust anchor you gave, with the block hash attested by the "
        f"signature of hub {HUB}, a hub key you gave: the hub says it verified this record "
        f"against these anchors at {made.signed_at}",
    ]


TX = "tx 7:0 (238ed4f0c959…)"
ORG1_PEER = "Org1MSP peer CN=peer0.org1.gov.example.com,OU=peer,L=San Francisco,ST=California,C=US"
ORG2_PEER = "Org2MSP peer CN=peer0.org2.gov.example.com,OU=peer,L=San Francisco,ST=California,C=US"
POLICY = "AND('Org1MSP.peer','Org2MSP.peer')"
# (fact, how the aside ends): each checked fact, with its closing aside when it has one.
FABRIC_FACTS = [
    ("trust anchor: channel govchannel, config block 0", ""),
    ("block 7: data hash a8c9f1ae3b40340e… matches its 1 envelope(s)", ""),
    (
        "block 7: 1 orderer signature(s) satisfy /Channel/Orderer/BlockValidation "
        "(ImplicitMeta ANY Writers at /Channel/Orderer satisfied: needs 1 of 1, met by "
        "[OrdererMSP/Writers], not met by []",
        ")",
    ),
    (f"{TX}: channel govchannel, tx id, proposal hash and chaincode records bind together", ""),
    (
        f"{TX}: creator signature by Org1MSP client CN=User1@org1.gov.example.com,OU=client,"
        "L=San Francisco,ST=California,C=US verifies",
        "",
    ),
    (f"{TX}: 2 endorsement signature(s) verify ({ORG1_PEER}; {ORG2_PEER}", ")"),
    (
        f"{TX}: endorsement policy {POLICY} for namespace records satisfied ({POLICY} "
        f"satisfied by {ORG1_PEER}, {ORG2_PEER}",
        ")",
    ),
    (
        f"{TX}: write of 84 bytes of records/license:91310000MA1K000001 equals the record "
        "(version, height, tx id, time",
        ")",
    ),
]
FABRIC_FLAG = f"  · {TX}: block metadata flag says VALID (unsigned; not relied on)"
FABRIC_QSCC = f"{TX}: validation code VALID attested by signed qscc answers of Org1MSP, Org2MSP"


def test_fabric_facts_are_checked_only_against_the_readers_config_block(
    run: Cli, tmp_path: Path
) -> None:
    made = _fabric(tmp_path)
    head = (
        "fabric-test/govchannel:records/license:91310000MA1K000001 version 30064771072 "
        "(fabric proof)"
    )

    def unanchored(fact: str, aside: str) -> str:
        fact = fact.replace("trust anchor:", "trust anchor the bundle carries:")
        return f"  · {fact}; not anchored)" if aside else f"  · {fact} (not anchored)"

    assert _lines(run, made, code=exit_codes.FAILED) == [
        f"{made.bundle}: consistent but NOT anchored: {head}",
        *(unanchored(fact, aside) for fact, aside in FABRIC_FACTS),
        FABRIC_FLAG,
        f"  · {FABRIC_QSCC} (not anchored)",
        "  · bundle digest matches its content (not anchored)",
        NOT_CHECKED,
        INSIDE,
    ]
    assert _lines(run, made, "--anchor", str(made.anchor), code=exit_codes.OK) == [
        f"{made.bundle}: verified {head}",
        *(f"  ✓ {fact}{aside}" for fact, aside in FABRIC_FACTS),
        FABRIC_FLAG,
        f"  ✓ {FABRIC_QSCC}",
        "  ✓ bundle digest matches its content",
        NOT_CHECKED,
        "anchored in: the trust anchor you gave",
    ]
