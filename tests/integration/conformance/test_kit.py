"""The conformance kit against every built-in adapter that runs in CI, in process and remote,
and against misbehaving adapters, whose broken clauses it must name."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict, ParseDict

from adapters.base import Adapter, AdapterContext
from adapters.remote import RemoteAdapter, RemoteOptions
from devnets.base import DevnetInfo
from hub import adapter_plugins
from hub.conformance.suite import SuiteConfig, run_suite
from tonglian.v1 import chains_pb2
from tonglian_tools.conformance_writers import writer_for_devnet

sys.path.insert(0, str(Path(__file__).parents[1] / "adapters"))
import misbehaving

pytestmark = pytest.mark.integration


def in_process(info: DevnetInfo, timeout: float = 5.0) -> tuple[Adapter, chains_pb2.Chain]:
    chain = ParseDict(info.chain, chains_pb2.Chain())
    factory = adapter_plugins.factory(chain.adapter.adapter)
    ctx = AdapterContext(
        chain_id=chain.chain_id,
        options=MessageToDict(chain.adapter.options),
        trust_anchor=chain.trust_anchor,
        timeout=timeout,
    )
    return factory(ctx), chain


async def certify(adapter: Adapter, chain: chains_pb2.Chain, info: DevnetInfo, label: str) -> Any:
    config = SuiteConfig(
        anchor=chain.trust_anchor,
        chain_id=chain.chain_id,
        writer=writer_for_devnet(info),
        timeout=10.0,
    )
    try:
        return await run_suite(adapter, label, config)
    finally:
        await adapter.close()


@pytest.fixture
def serve_cli(tmp_path: Path) -> Iterator[Any]:
    """Starts `tonglian adapter serve --from-devnet KIND` processes; stops them after the test."""
    procs: list[subprocess.Popen[str]] = []

    def start(info: DevnetInfo) -> str:
        root = tmp_path / f"state-{len(procs)}"
        (root / info.kind).mkdir(parents=True)
        (root / info.kind / "devnet.json").write_text(info.model_dump_json())
        proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "hub.cli.main", "adapter", "serve", info.kind,
             "--from-devnet", info.kind, "--listen", "127.0.0.1:0"],
            env={**os.environ, "TONGLIAN_STATE_DIR": str(root)},
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("serving adapter"), line
        return line.split(" on ")[1].split()[0]

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(params=["custom", "custom_sm2", "annals"])
def signed_merkle_ledger(request: pytest.FixtureRequest) -> DevnetInfo:
    info: DevnetInfo = request.getfixturevalue(f"{request.param}_ledger")
    return info


@pytest.fixture
def evm_info(request: pytest.FixtureRequest) -> DevnetInfo:
    try:  # interval mining, so submitted deliveries become final without further writes
        running = request.getfixturevalue("evm_devnet_factory")(block_time=0.5)
    except Exception as exc:  # anvil from npm is missing
        pytest.skip(f"no EVM devnet: {exc}")
    info: DevnetInfo = running.info
    return info


@pytest.mark.parametrize("where", ["in-process", "remote"])
async def test_builtin_signed_merkle_adapters_are_certified(
    signed_merkle_ledger: DevnetInfo, where: str, serve_cli: Any
) -> None:
    info, kind = signed_merkle_ledger, signed_merkle_ledger.kind
    adapter, chain = in_process(info)
    if where == "remote":
        await adapter.close()
        address = serve_cli(info)
        adapter = RemoteAdapter(chain.chain_id, RemoteOptions(address=address), 5.0)
    card = await certify(adapter, chain, info, f"{kind} ({where})")
    assert card.certified, card.render()
    assert {r.clause for r in card.results if r.outcome == "pass"} >= {
        "describe", "head", "read", "scan-framing", "read-scan-agree", "proofs-verify",
        "tamper-rejected", "follow", "errors", "submit-idempotent", "deadlines",
    }  # fmt: skip


async def test_evm_adapter_is_certified(evm_info: DevnetInfo) -> None:
    adapter, chain = in_process(evm_info, timeout=10.0)
    card = await certify(adapter, chain, evm_info, "evm (in-process)")
    assert card.certified, card.render()


@pytest.mark.parametrize(
    ("mode", "broken"),
    [
        ("other-key", {"read"}),
        ("flip-value", {"proofs-verify"}),
        ("lying-head", {"head"}),
        ("errors-internal", {"errors"}),
        ("hang", {"read", "deadlines"}),
    ],
)
async def test_kit_names_the_clauses_a_misbehaving_adapter_breaks(
    custom_ledger: DevnetInfo, mode: str, broken: set[str]
) -> None:
    inner, chain = in_process(custom_ledger)
    server, address = await misbehaving.serve(misbehaving.Distorting(inner, mode))
    remote = RemoteAdapter(chain.chain_id, RemoteOptions(address=address), 1.0)
    config = SuiteConfig(
        anchor=chain.trust_anchor, writer=writer_for_devnet(custom_ledger), timeout=1.0
    )
    try:
        card = await run_suite(remote, f"distorting:{mode}", config)
    finally:
        await remote.close()
        await server.stop(None)
        await inner.close()
    failed = {r.clause for r in card.results if r.outcome == "fail"}
    assert broken <= failed, card.render()
    assert not card.certified
    report = card.to_json()
    assert report["format"] == "tonglian.conformance-report/v1"
    assert json.loads(json.dumps(report))["certified"] is False


async def test_check_cli_writes_a_report(custom_ledger: DevnetInfo, tmp_path: Path) -> None:
    root = tmp_path / "state"
    (root / "custom").mkdir(parents=True)
    (root / "custom" / "devnet.json").write_text(custom_ledger.model_dump_json())
    report = tmp_path / "report.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-P", "-m", "hub.cli.main", "adapter", "check", "custom",
        "--from-devnet", "custom", "--report", str(report),
        env={**os.environ, "TONGLIAN_STATE_DIR": str(root)},
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    assert "CERTIFIED" in out.decode()
    doc = json.loads(report.read_text())
    assert doc["certified"] is True and len(doc["clauses"]) == 11
