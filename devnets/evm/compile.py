"""Compiles devnets/evm/contracts/*.sol with the pinned solc from npm into the committed artifact.

`python -m devnets.evm.compile` rewrites `contracts/compiled/artifacts.json`
(ABI + bytecode, what the devnet deploys) and `adapters/evm/abi.json` (the ABIs
the adapter encodes calls with); `--check` recompiles in memory and exits 1 when
either committed file differs, so sources, bytecode and ABIs never drift apart.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from devnets.evm.tools import node_modules, solc_package
from devnets.process import DevnetError

CONTRACTS_DIR = Path(__file__).parent / "contracts"
ARTIFACT_PATH = CONTRACTS_DIR / "compiled" / "artifacts.json"
# The EVM adapter ships the contracts' ABIs (not their bytecode) beside its code.
ADAPTER_ABI_PATH = Path(__file__).parents[2] / "adapters" / "evm" / "abi.json"
# Pinned so bytecode runs on every hardfork anvil may default to.
EVM_VERSION = "cancun"


def standard_input() -> dict[str, Any]:
    sources = {
        path.name: {"content": path.read_text()} for path in sorted(CONTRACTS_DIR.glob("*.sol"))
    }
    return {
        "language": "Solidity",
        "sources": sources,
        "settings": {
            "evmVersion": EVM_VERSION,
            "optimizer": {"enabled": True, "runs": 200},
            "metadata": {"bytecodeHash": "none", "appendCBOR": False},
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }


def compile_artifact() -> dict[str, Any]:
    """Runs solc-js under node and returns the artifact: compiler, settings, abi + bytecode."""
    solc_package()  # fails early with the install hint
    std_input = standard_input()
    env = dict(os.environ, NODE_PATH=str(node_modules()))
    try:
        done = subprocess.run(
            ["node", str(Path(__file__).parent / "solc_compile.cjs")],
            input=json.dumps(std_input).encode(),
            capture_output=True,
            env=env,
            check=False,
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DevnetError(f"cannot run solc under node: {exc}") from exc
    if done.returncode != 0:
        raise DevnetError(f"solc failed: {done.stderr.decode(errors='replace')[-2000:]}")
    output = json.loads(done.stdout)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise DevnetError("solc errors:\n" + "\n".join(e["formattedMessage"] for e in errors))
    contracts: dict[str, Any] = {}
    for file_contracts in output["contracts"].values():
        for name, body in file_contracts.items():
            contracts[name] = {
                "abi": body["abi"],
                "bytecode": "0x" + body["evm"]["bytecode"]["object"],
            }
    return {
        "compiler": output["compilerVersion"],
        "settings": std_input["settings"],
        "contracts": dict(sorted(contracts.items())),
    }


def render(artifact: dict[str, Any]) -> str:
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def render_abis(artifact: dict[str, Any]) -> str:
    abis = {name: body["abi"] for name, body in artifact["contracts"].items()}
    return json.dumps(abis, indent=1, sort_keys=True) + "\n"


def load_artifact() -> dict[str, Any]:
    """The committed artifact (what the devnet deploys)."""
    artifact: dict[str, Any] = json.loads(ARTIFACT_PATH.read_text())
    return artifact


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail when the artifact is stale")
    args = parser.parse_args(argv)
    artifact = compile_artifact()
    outputs = {ARTIFACT_PATH: render(artifact), ADAPTER_ABI_PATH: render_abis(artifact)}
    if args.check:
        stale = [p for p, text in outputs.items() if not p.exists() or p.read_text() != text]
        for path in stale:
            print(
                f"{path} is out of date: run `python -m devnets.evm.compile` and commit it",
                file=sys.stderr,
            )
        if not stale:
            print("compiled artifact and adapter ABIs match the contracts")
        return 1 if stale else 0
    for path, text in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
