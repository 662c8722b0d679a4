"""`python -m devnets.fabric.chaincode`: the records chaincode server (ccaas).

Reads CHAINCODE_SERVER_ADDRESS and CHAINCODE_ID (the package id), the names
fabric-chaincode-python uses, so the process is configured the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    address = os.environ.get("CHAINCODE_SERVER_ADDRESS", "")
    chaincode_id = os.environ.get("CHAINCODE_ID", "")
    if not address or not chaincode_id:
        print("set CHAINCODE_SERVER_ADDRESS and CHAINCODE_ID", file=sys.stderr)
        return 2
    from devnets.fabric.chaincode.shim import serve

    async def run() -> None:
        task = asyncio.ensure_future(serve(address, chaincode_id))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
