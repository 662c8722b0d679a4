"""A small signed-Merkle ledger, the stand-in for a vendor's proprietary chain.

It is deliberately independent of the hub and the adapters (nothing here imports
`hub` or `adapters`): the hub must verify its proofs from the published spec alone.

Blocks are cut on an interval from pending entries, hashed into an RFC 6962 style
Merkle tree and signed by k of n validator Ed25519 keys. Signed blocks are final
at once (BFT style), so head height is final height. See `merkle.py` for the
leaf and tree hashing, `header.py` for the signed header bytes.
"""
