"""docs/sdk.md runs as printed: its python blocks, in order, as one script, against a real
hub over mutual TLS (with docs/examples/policy.yaml) and a real custom ledger.

The script runs in a child process, in a folder laid out as the README's "Using it"
leaves it: the regulator's certificate in pki/, the chain's anchor in the anchors
folder under XDG_CONFIG_HOME, the hub in TONGLIAN_HUB.
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf.json_format import MessageToJson, ParseDict

from devnets.base import DevnetInfo
from tonglian.v1 import chains_pb2
from tonglian_client.client import AsyncClient
from tonglian_tools.hub_process import HubProcess

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "sdk.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


@pytest.fixture
def hub(tmp_path: Path, custom_ledger: DevnetInfo) -> Iterator[tuple[HubProcess, str]]:
    """The hub with the example policy and custom-1 registered; yields it and the
    chain's anchor as JSON."""
    policy = (REPO / "docs" / "examples" / "policy.yaml").read_text()
    hub = HubProcess(tmp_path / "hub", policy=policy)
    hub.start()
    try:
        asyncio.run(hub.wait_serving())
        chain = ParseDict(custom_ledger.chain, chains_pb2.Chain())
        ops = hub.issue("ops", org="tonglian-ops", role="operator")

        async def register() -> None:
            async with AsyncClient(hub.address, ops) as client:
                if chain.chain_id not in [c.chain_id for c in await client.list_chains()]:
                    await client.register_chain(chain)

        asyncio.run(register())
        yield hub, MessageToJson(chain.trust_anchor)
    finally:
        hub.stop()


def test_the_examples_are_found() -> None:
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) == 6
    for call in (
        "list_chains",
        "put_record",
        "get_record",
        "verify_record",
        "evaluate_predicate",
        "verify_answer",
        "list_records",
        "watch_records",
    ):
        assert any(call in block for block in blocks), call  # fmt: skip


def test_the_sdk_examples_run_as_printed(tmp_path: Path, hub: tuple[HubProcess, str]) -> None:
    process, anchor_json = hub
    work = tmp_path / "work"
    (work / "pki").mkdir(parents=True)
    regulator = process.issue("regulator", org="market-regulator", role="agency")
    shutil.copy(regulator.cert, work / "pki" / "regulator.crt")
    shutil.copy(regulator.key, work / "pki" / "regulator.key")
    shutil.copy(regulator.ca, work / "pki" / "ca.crt")
    config = tmp_path / "config"
    (config / "tonglian" / "anchors").mkdir(parents=True)
    (config / "tonglian" / "anchors" / "custom-1.json").write_text(anchor_json)
    script = work / "sdk_examples.py"
    script.write_text("\n\n".join(python_blocks(DOC.read_text())))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGLIAN_")}
    env.update(TONGLIAN_HUB=process.address, XDG_CONFIG_HOME=str(config))
    result = subprocess.run(
        [sys.executable, str(script)], cwd=work, env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    lines = result.stdout.splitlines()
    assert "custom-1" in lines[0]
    assert lines[1].startswith("final in block ")
    assert lines[2] == "active True"
    assert lines[3] == "the trust anchor you gave"
    assert lines[4] == "active: True"
    listed = ast.literal_eval(lines[5])
    assert "91310000MA1K000002" in listed
    assert lines[6] in listed  # the watch replayed from block 1: a listed licence
    assert (work / "licence.pb").stat().st_size > 0
