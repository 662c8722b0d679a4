"""The proof core: everything needed to check a proof or a signed answer offline.

Per-kind verifiers, proof bundles, signed statements, audit-event hashing and
canonical JSON. Pure: it imports no grpc, aiohttp, web3 or sqlite3 and nothing of
hub/, adapters/ or devnets/, so the hub, the SDK and a reader with no hub installed
all run the same checks.
"""
