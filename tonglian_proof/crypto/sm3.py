"""SM3 (GB/T 32905-2016), the digest of China's national-cryptography ledgers.

Bound to gmalglib, the library `tonglian_proof.crypto.sm2` uses, so one C
implementation serves both; see that module for why it was chosen.
"""

from __future__ import annotations

from gmalglib import sm3_digest

DIGEST_SIZE = 32


def sm3(data: bytes) -> bytes:
    """The 32-byte SM3 digest of `data`."""
    digest: bytes = sm3_digest(data)
    return digest
