"""The Fabric devnet: one Raft orderer, two organisations with one peer each, TLS everywhere.

Runs Fabric's official release binaries as local processes (found through
`FABRIC_HOME` or `peer` on PATH) and the `records` chaincode as a chaincode
server behind the ccaas builder.
"""
