"""The Annals node: one process serving the REST API and sealing blocks (imports no hub)."""
