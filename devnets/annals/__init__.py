"""The Annals devnet: a second vendor's proprietary ledger, with an API unlike the custom one.

Annals is a REST ledger (paged queries with opaque cursors, base64 binaries,
blocks as lists of transactions with per-transaction hashes). It seals each
block by having k of n signers sign the canonical header of the hub's
signed-Merkle spec, which it stores as bytes beside its own block metadata, so
its proofs verify as `signed_merkle` without the hub knowing Annals exists.
"""
