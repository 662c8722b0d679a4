"""The compiled RecordRegistry and Inbox, and the few calls a devnet or a test makes on them.

Deployment and record writes use anvil's unlocked dev accounts (`from` only, no
key handling): this is devnet tooling, not the hub's submit path.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.types import TxReceipt

from devnets.evm.compile import ARTIFACT_PATH

RECEIPT_TIMEOUT = 30.0


@cache
def artifact(name: str) -> dict[str, Any]:
    """ABI and bytecode of contract NAME from the committed artifact."""
    contracts: dict[str, Any] = json.loads(ARTIFACT_PATH.read_text())["contracts"]
    body: dict[str, Any] = contracts[name]
    return body


def abi(name: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = artifact(name)["abi"]
    return result


async def deploy(
    w3: AsyncWeb3[AsyncHTTPProvider], name: str, sender: ChecksumAddress
) -> ChecksumAddress:
    """Deploys contract NAME from `sender` and returns its address once mined."""
    body = artifact(name)
    factory = w3.eth.contract(abi=body["abi"], bytecode=body["bytecode"])
    tx_hash = await factory.constructor().transact({"from": sender})
    receipt = await w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT)
    address = receipt["contractAddress"]
    if receipt["status"] != 1 or address is None:
        raise RuntimeError(f"deploying {name} failed: {receipt}")
    return address


async def set_submitter(
    w3: AsyncWeb3[AsyncHTTPProvider],
    inbox: ChecksumAddress,
    owner: ChecksumAddress,
    submitter: ChecksumAddress,
) -> None:
    contract = w3.eth.contract(address=inbox, abi=abi("Inbox"))
    tx_hash = await contract.functions.setSubmitter(submitter, True).transact({"from": owner})
    await _mined(w3, tx_hash)


async def set_writer(
    w3: AsyncWeb3[AsyncHTTPProvider],
    registry: ChecksumAddress,
    owner: ChecksumAddress,
    writer: ChecksumAddress,
) -> None:
    """Lets `writer` (the hub's submitter) write records: writes through the hub."""
    contract = w3.eth.contract(address=registry, abi=abi("RecordRegistry"))
    tx_hash = await contract.functions.setWriter(writer, True).transact({"from": owner})
    await _mined(w3, tx_hash)


async def put_record(
    w3: AsyncWeb3[AsyncHTTPProvider],
    registry: ChecksumAddress,
    writer: ChecksumAddress,
    key: str,
    schema: str,
    value: bytes,
) -> TxReceipt:
    """Writes the next version of `key`; returns the mined receipt."""
    contract = w3.eth.contract(address=registry, abi=abi("RecordRegistry"))
    tx_hash = await contract.functions.put(key, schema, value).transact({"from": writer})
    return await _mined(w3, tx_hash)


async def remove_record(
    w3: AsyncWeb3[AsyncHTTPProvider],
    registry: ChecksumAddress,
    writer: ChecksumAddress,
    key: str,
    schema: str,
) -> TxReceipt:
    contract = w3.eth.contract(address=registry, abi=abi("RecordRegistry"))
    tx_hash = await contract.functions.remove(key, schema).transact({"from": writer})
    return await _mined(w3, tx_hash)


async def _mined(w3: AsyncWeb3[AsyncHTTPProvider], tx_hash: HexBytes) -> TxReceipt:
    receipt = await w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT)
    if receipt["status"] != 1:
        raise RuntimeError(f"transaction {tx_hash.hex()} reverted")
    return receipt
