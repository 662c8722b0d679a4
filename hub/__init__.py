"""The Tonglian hub: everything that decides (verification, policy, routing, storage)."""
