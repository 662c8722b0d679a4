"""Signature and digest primitives the verifiers need beyond what `cryptography` offers."""
