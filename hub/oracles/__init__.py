"""Facts the hub fetches itself, from sources registered in trust anchors, never from adapters."""
