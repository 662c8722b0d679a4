"""The reference custom ledger devnet: a signed-Merkle chain standing in for a vendor's own."""
