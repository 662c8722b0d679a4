"""The `records` chaincode the Fabric devnet runs, in Python, as a chaincode server (ccaas).

`records.py` is the contract (what each function reads and writes); `shim.py`
runs it on fabric-chaincode-python 2.5.4 with the guards that library needs
(see `/work/shared/fabric/RUNNING.md`); `python -m devnets.fabric.chaincode`
starts the server.
"""

# Log lines of the chaincode server when a peer's stream opens or ends (tests count them).
STREAM_OPENED = "peer stream opened"
STREAM_CLOSED = "peer stream closed"
