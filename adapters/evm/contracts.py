"""RecordRegistry and Inbox as the adapter sees them: call encoding, log and revert decoding.

The ABIs come from `abi.json`, which `python -m devnets.evm.compile` writes from
the same compilation the devnet deploys (and `--check` keeps in step). The
storage layout constants mirror RecordRegistry.sol's documented layout.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, cast

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_hash.auto import keccak
from eth_utils.abi import (
    collapse_if_tuple,
    event_abi_to_log_topic,
    function_abi_to_4byte_selector,
    get_abi_input_types,
    get_abi_output_types,
)

ABI_PATH = Path(__file__).with_name("abi.json")

# RecordRegistry storage layout: mapping digestOf at slot 0, versionOf at slot 1.
DIGEST_SLOT_INDEX = 0
VERSION_SLOT_INDEX = 1


@cache
def _abis() -> dict[str, list[dict[str, Any]]]:
    return cast(dict[str, list[dict[str, Any]]], json.loads(ABI_PATH.read_text()))


def _entry(contract: str, kind: str, name: str) -> Any:
    """The ABI entry (typed loosely: eth_utils wants its own TypedDicts)."""
    for entry in _abis()[contract]:
        if entry.get("type") == kind and entry.get("name") == name:
            return entry
    raise KeyError(f"{contract} has no {kind} {name}")


def key_id(key: str) -> bytes:
    return bytes(keccak(key.encode()))


def slot_of(key: str, slot_index: int) -> bytes:
    """Storage slot of `key`'s entry in a mapping(bytes32 => _) declared at `slot_index`."""
    return bytes(keccak(key_id(key) + slot_index.to_bytes(32, "big")))


@cache
def _function(contract: str, function: str) -> tuple[bytes, list[str], list[str]]:
    """(selector, input types, output types): looked up once, asked on every read."""
    entry = _entry(contract, "function", function)
    selector = function_abi_to_4byte_selector(entry)
    return selector, get_abi_input_types(entry), get_abi_output_types(entry)


def encode_call(contract: str, function: str, args: list[Any]) -> str:
    """0x-hex calldata for `contract.function(*args)`."""
    selector, types, _ = _function(contract, function)
    return "0x" + (selector + abi_encode(types, args)).hex()


def decode_result(contract: str, function: str, data: bytes) -> tuple[Any, ...]:
    return tuple(abi_decode(_function(contract, function)[2], data))


def event_topic(contract: str, event: str) -> str:
    return "0x" + event_abi_to_log_topic(_entry(contract, "event", event)).hex()


def decode_event_data(contract: str, event: str, data: bytes) -> dict[str, Any]:
    """The non-indexed fields of a log, by name."""
    entry = _entry(contract, "event", event)
    inputs = [i for i in entry["inputs"] if not i.get("indexed")]
    values = abi_decode([collapse_if_tuple(i) for i in inputs], data)
    return {i["name"]: v for i, v in zip(inputs, values, strict=True)}


def decode_revert(contract: str, data: bytes) -> tuple[str, tuple[Any, ...]] | None:
    """(error name, arguments) of a custom-error revert of `contract`, or None."""
    if len(data) < 4:
        return None
    entry: Any
    for entry in _abis()[contract]:
        if entry.get("type") != "error":
            continue
        if function_abi_to_4byte_selector(entry) == data[:4]:
            types = get_abi_input_types(entry)
            return str(entry["name"]), tuple(abi_decode(types, data[4:]))
    return None
