"""EVM adapter options, the committed ABIs and the storage layout the adapter and hub share."""

from __future__ import annotations

import json

import pytest

from adapters.base import AdapterContext, AdapterMisconfigured, Secret
from adapters.evm import contracts
from adapters.evm.options import resolve
from devnets.evm.compile import ARTIFACT_PATH
from tonglian.v1 import chains_pb2
from tonglian_proof.verify.evm_registry import digest_slot, version_slot

ANCHOR = chains_pb2.TrustAnchor(
    evm=chains_pb2.EvmTrustAnchor(
        chain_id=31337,
        registry_address=bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3"),
        finality_depth=3,
        consensus=chains_pb2.EVM_CONSENSUS_ENDPOINT_QUORUM,
        inbox_address=bytes.fromhex("e7f1725e7734ce288f8367e1bb143e90bb3f0512"),
    )
)


def ctx(**options: object) -> AdapterContext:
    return AdapterContext(chain_id="evm-1", options=options, trust_anchor=ANCHOR, timeout=3)


def test_anchor_supplies_addresses_chain_id_and_depth() -> None:
    opts = resolve(ctx(rpc_url="http://127.0.0.1:8545"))
    assert opts.registry == "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    assert opts.inbox == "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
    assert (opts.chain_id, opts.finality_depth, opts.timeout) == (31337, 3, 3)
    assert opts.private_key is None


def test_private_key_is_a_secret_never_an_option() -> None:
    key = "0x" + "11" * 32
    opts = resolve(
        AdapterContext(
            chain_id="evm-1",
            options={"rpc_url": "http://x:1"},
            secrets={"private_key": Secret(key)},
            trust_anchor=ANCHOR,
        )
    )
    assert opts.private_key is not None and opts.private_key.get_secret_value() == key
    assert "11" not in repr(opts)  # secrets stay out of logs
    with pytest.raises(AdapterMisconfigured, match="private_key: Extra inputs are not permitted"):
        resolve(ctx(rpc_url="http://x:1", private_key=key))
    with pytest.raises(AdapterMisconfigured, match="takes only the secret 'private_key', not pin"):
        resolve(
            AdapterContext(
                chain_id="evm-1",
                options={"rpc_url": "http://x:1"},
                secrets={"pin": Secret("1")},
                trust_anchor=ANCHOR,
            )
        )


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({}, "rpc_url"),
        ({"rpc_url": "ws://x"}, "rpc_url"),
        ({"rpc_url": "http://x", "registry_address": "0x12"}, "registry_address"),
        ({"rpc_url": "http://x", "poll_interval": 0}, "poll_interval"),
        ({"rpc_url": "http://x", "surprise": 1}, "surprise"),
    ],
)
def test_bad_options_are_misconfiguration(options: dict[str, object], fragment: str) -> None:
    with pytest.raises(AdapterMisconfigured, match=fragment):
        resolve(ctx(**options))


def test_no_registry_anywhere_is_misconfiguration() -> None:
    with pytest.raises(AdapterMisconfigured, match="no registry address"):
        resolve(AdapterContext(chain_id="evm-1", options={"rpc_url": "http://x", "chain_id": 5}))


def test_adapter_abis_match_the_compiled_artifact() -> None:
    compiled = json.loads(ARTIFACT_PATH.read_text())["contracts"]
    shipped = json.loads(contracts.ABI_PATH.read_text())
    assert shipped == {name: body["abi"] for name, body in compiled.items()}


def test_adapter_and_verifier_agree_on_the_storage_layout() -> None:
    for key in ("lic-1", "中文键", "x" * 200):
        assert contracts.slot_of(key, contracts.DIGEST_SLOT_INDEX) == digest_slot(key)
        assert contracts.slot_of(key, contracts.VERSION_SLOT_INDEX) == version_slot(key)


def test_custom_errors_decode() -> None:
    from eth_abi.abi import encode
    from eth_utils.abi import function_signature_to_4byte_selector

    data = function_signature_to_4byte_selector("AlreadyDelivered(string)") + encode(
        ["string"], ["d-1"]
    )
    assert contracts.decode_revert("Inbox", data) == ("AlreadyDelivered", ("d-1",))
    assert contracts.decode_revert("Inbox", b"\x00\x01") is None
