"""The `records` chaincode the Fabric devnet runs, in Python, as a chaincode server (ccaas).

`records.py` is the contract (what each function reads and writes); `shim.py`
runs it on fabric-chaincode-python 2.5.4 with the guards that library needs
(see `/work/shared/fabric/RUNNING.md`); `python -m devnets.fabric.chaincode`
starts the server.
"""
