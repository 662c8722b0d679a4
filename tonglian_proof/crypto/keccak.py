"""Keccak-256 (Ethereum's hash, not NIST SHA3-256): the one the EVM verifier and its bench use.

The C code is pycryptodome's, the backend eth-hash picks here; called directly, with
one Keccak state per thread that is reset for each digest, instead of through
eth-hash and pycryptodome's hash objects (a new state, four wrapper objects and six
foreign calls per digest): the same digest at a quarter of the cost, and keccak is
a third of an EVM proof's verification. Without pycryptodome's cffi backend it
falls back to eth-hash.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

DIGEST_SIZE = 32
_KECCAK_CAPACITY = 2 * DIGEST_SIZE  # bytes: Keccak-256 absorbs 136-byte blocks
_ROUNDS = 24
_PADDING = 0x01  # Keccak's original padding (SHA-3 uses 0x06)


def _eth_hash() -> Callable[[bytes], bytes]:
    from eth_hash.auto import keccak as eth_keccak

    def keccak256(data: bytes) -> bytes:
        return bytes(eth_keccak(data))

    return keccak256


def _direct() -> Callable[[bytes], bytes] | None:
    try:
        raw_api: Any = importlib.import_module("Crypto.Util._raw_api")
        lib: Any = importlib.import_module("Crypto.Hash.keccak")._raw_keccak_lib
    except (ImportError, AttributeError):
        return None
    if raw_api.backend != "cffi":
        return None
    ffi: Any = raw_api.ffi
    reset, absorb, squeeze = lib.keccak_reset, lib.keccak_absorb, lib.keccak_digest
    local = threading.local()  # cffi lets go of the GIL in calls: a state per thread

    def state() -> tuple[Any, Any, Any]:
        holder = ffi.new("void **")
        if lib.keccak_init(holder, _KECCAK_CAPACITY, _ROUNDS):
            raise RuntimeError("keccak_init failed")
        out = ffi.new("uint8_t[]", DIGEST_SIZE)
        made = (ffi.gc(holder[0], lib.keccak_destroy), out, ffi.buffer(out))
        local.state = made
        return made

    def keccak256(data: bytes) -> bytes:
        if type(data) is not bytes:
            data = bytes(data)
        try:
            st, out, buf = local.state
        except AttributeError:
            st, out, buf = state()
        if reset(st) or absorb(st, data, len(data)) or squeeze(st, out, DIGEST_SIZE, _PADDING):
            raise RuntimeError("keccak failed")
        digest: bytes = buf[:]
        return digest

    return keccak256


keccak256: Callable[[bytes], bytes] = _direct() or _eth_hash()
