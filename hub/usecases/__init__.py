"""Use cases: what the hub does for a principal, apart from how it is asked (gRPC)."""
