"""`tonglian chains add` builds the Chain it registers from flags (no hub needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.cli.chains import chain_from_args
from hub.cli.main import build_parser
from hub.errors import InvalidInput
from tonglian.v1 import chains_pb2

DATA = Path(__file__).parents[2] / "data" / "fabric"
REGISTRY = "0x" + "ab" * 20


def parse(*argv: str) -> chains_pb2.Chain:
    return chain_from_args(build_parser().parse_args(["chains", "add", *argv]))


def test_evm_endpoint_quorum() -> None:
    chain = parse(
        "evm",
        "--chain-id",
        "e1",
        "--rpc",
        "http://a",
        "--rpc",
        "http://b",
        "--evm-chain-id",
        "31337",
        "--registry",
        REGISTRY,
        "--quorum",
        "2",
    )
    anchor = chain.trust_anchor.evm
    assert chain.kind == chains_pb2.CHAIN_KIND_EVM and chain.adapter.adapter == "evm"
    assert anchor.registry_address == bytes.fromhex("ab" * 20)
    assert list(anchor.rpc_endpoints) == ["http://a", "http://b"]
    assert anchor.endpoint_quorum == 2 and anchor.finality_depth == 2
    assert anchor.consensus == chains_pb2.EVM_CONSENSUS_ENDPOINT_QUORUM
    assert chain.adapter.options["rpc_url"] == "http://a"


def test_evm_qbft() -> None:
    chain = parse(
        "evm",
        "--rpc",
        "http://a",
        "--evm-chain-id",
        "1",
        "--registry",
        REGISTRY,
        "--validator-address",
        "0x" + "01" * 20,
        "--validator-address",
        "0x" + "02" * 20,
    )
    anchor = chain.trust_anchor.evm
    assert anchor.consensus == chains_pb2.EVM_CONSENSUS_QBFT
    assert len(anchor.validators) == 2 and anchor.finality_depth == 0


# A Fabric chain's flags up to its --peer's value.
FABRIC_PEER = ["fabric", "--config-block", "b", "--channel", "c", "--chaincode", "cc", "--peer"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["evm", "--rpc", "http://a", "--evm-chain-id", "1", "--registry", "0x12"],
            "--registry wants a 20-byte hex address, got '0x12'",
        ),
        (["evm", "--rpc", "http://a"], "an EVM chain needs --rpc, --evm-chain-id and --registry"),
        (
            ["fabric", "--channel", "c"],
            "a Fabric chain needs --config-block, --channel, --chaincode and at least one --peer",
        ),
        (
            [*FABRIC_PEER, f"127.0.0.1:7051,Org1MSP,{DATA / 'certs' / 'Org1MSP' / 'tlsca.pem'}"],
            "a Fabric chain needs --identity-msp, --identity-cert and --identity-key",
        ),
        (
            [*FABRIC_PEER, "127.0.0.1:7051,Org1MSP,/nonexistent/tls.pem"],
            "--peer /nonexistent/tls.pem: cannot read it: No such file or directory",
        ),
        (["custom", "--validator", "v1"], "--validator wants ID=PUBKEY, got 'v1'"),
        (["custom", "--option", "novalue"], "--option wants KEY=VALUE, got 'novalue'"),
    ],
)
def test_bad_flags(argv: list[str], message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse(*argv)
    assert str(err.value) == message


def fabric_argv(block: Path) -> list[str]:
    return [
        "fabric",
        "--chain-id",
        "f1",
        "--config-block",
        str(block),
        "--channel",
        "govchannel",
        "--chaincode",
        "records",
        "--peer",
        f"127.0.0.1:7051,Org1MSP,{DATA / 'certs' / 'Org1MSP' / 'tlsca.pem'}",
        "--identity-msp",
        "Org1MSP",
        "--identity-cert",
        str(DATA / "certs" / "Org1MSP" / "ca.pem"),
        "--identity-key",
        "/k.pem",
        "--policy",
        "records=AND('Org1MSP.peer','Org2MSP.peer')",
    ]


def test_fabric_from_config_block() -> None:
    chain = parse(*fabric_argv(DATA / "config-block.pb"))
    anchor = chain.trust_anchor.fabric
    assert chain.kind == chains_pb2.CHAIN_KIND_FABRIC and chain.chain_id == "f1"
    assert anchor.channel == "govchannel"
    assert anchor.config_block == (DATA / "config-block.pb").read_bytes()
    assert anchor.endorsement_policies["records"] == "AND('Org1MSP.peer','Org2MSP.peer')"
    # Certificates travel inline as PEM; the key is a file secret the SDK stages.
    identity = chain.adapter.options["identity"]
    assert identity["cert_pem"] == (DATA / "certs" / "Org1MSP" / "ca.pem").read_text()
    peer = chain.adapter.options["peers"][0]
    assert peer["tls_root_cert_pem"] == (DATA / "certs" / "Org1MSP" / "tlsca.pem").read_text()
    assert dict(chain.adapter.secrets) == {"identity_key": chains_pb2.SecretRef(file="/k.pem")}


def test_fabric_refuses_a_block_that_is_not_config() -> None:
    with pytest.raises(InvalidInput) as err:
        parse(*fabric_argv(DATA / "block-3.pb"))
    assert str(err.value).endswith("block 3 is a ENDORSER_TRANSACTION block, not CONFIG")
