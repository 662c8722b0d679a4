"""Attacks on chain settings, submit paths, operator scope and the CLI, tried as users would.

One hub over mutual TLS (module scope), an anvil devnet started with `tonglian devnet
up evm`, the custom ledger, and `tonglian` run as a child process with each
principal's certificate: the hub's operator, an operator scoped to EVM chains,
and an agency.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import AsyncHTTPProvider, AsyncWeb3

from devnets.base import DevnetInfo
from hub import pki
from hub.cli import exit_codes
from tonglian_client.credentials import Credentials
from tonglian_tools.hub_process import OPERATOR_ORG, HubProcess

from .cli_scene import CliScene

pytestmark = pytest.mark.integration

POLICY = f"""\
version: 1
principals:
  {OPERATOR_ORG}:
    operator: true
    rules:
      - name: ops-read-everything
        chains: ["*"]
        purposes: ["*"]
  evm-ops:
    operator:
      name: evm-ops-chains
      chains: ["evm-*"]
  market-regulator:
    rules:
      - name: regulator-reads
        chains: ["*"]
        purposes: ["*"]
"""


class Scene(CliScene):
    def __init__(self, hub: HubProcess, state: Path, cwd: Path, custom: DevnetInfo) -> None:
        super().__init__(hub, state, cwd)
        self.custom = custom
        self.evm_ops = hub.issue("eve", org="evm-ops", role="operator")
        self.agency = hub.issue("alice", org="market-regulator")

    def evm_info(self) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.state / "evm" / "devnet.json").read_text())
        return data

    @property
    def submitter_key(self) -> str:
        extra = self.evm_info()["extra"]
        assert isinstance(extra, dict)
        return str(extra["submitter"]["private_key"])


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, custom_ledger: DevnetInfo) -> Iterator[Scene]:
    root = tmp_path_factory.mktemp("attacks")
    hub = HubProcess(root / "hub", policy=POLICY)
    hub.start()
    scene = Scene(hub, root / "state", root, custom_ledger)
    try:
        asyncio.run(hub.wait_serving())
        scene.run(None, "devnet", "up", "evm")
        scene.run(scene.ops, "chains", "add", "--from-devnet", "evm")
        custom = root / "custom.json"
        custom.write_text(json.dumps(custom_ledger.chain))
        scene.run(scene.ops, "chains", "add", "--file", str(custom))
        yield scene
    finally:
        scene.run(None, "devnet", "down", "evm", check=None)
        hub.stop()


# 1. Secrets never leave the hub.


def test_the_submitter_key_is_a_0600_store_entry_never_a_setting(scene: Scene) -> None:
    key = scene.submitter_key.removeprefix("0x")
    shown = scene.run(scene.ops, "chains", "show", "evm-1", "--json")
    chain = json.loads(shown.stdout)
    ref = chain["adapter"]["secrets"]["private_key"]
    # `--from-devnet evm` put the devnet's key file into evm-1's own store first.
    assert ref == {"store": "private_key"}
    stored = scene.hub.data_dir / "secrets" / "evm-1" / "private_key"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert "private_key" not in chain["adapter"]["options"]
    assert chain["status"]["head"]["height"]  # the hub read the key and the adapter works
    listed = scene.run(scene.ops, "chains", "list", "--json").stdout
    audit = scene.run(scene.ops, "audit", "list", "--limit", "1000", "--json").stdout
    for text in (shown.stdout, listed, audit, scene.hub.log_path.read_text()):
        assert key not in text.lower()


def test_an_agency_sees_no_adapter_settings_or_endpoints(scene: Scene) -> None:
    key = scene.submitter_key.removeprefix("0x")
    shown = scene.run(scene.agency, "chains", "show", "evm-1", "--json")
    chain = json.loads(shown.stdout)
    assert "adapter" not in chain
    assert "rpc_endpoints" not in chain["trust_anchor"]["evm"]
    assert chain["trust_anchor"]["evm"]["chain_id"] and chain["kind"] == "CHAIN_KIND_EVM"
    assert chain["status"]["head"]["height"]  # health is still shown
    listed = scene.run(scene.agency, "chains", "list", "--json").stdout
    for text in (shown.stdout, listed):
        assert key not in text.lower()
        assert "127.0.0.1" not in text  # neither adapter URLs nor RPC endpoints


def test_an_inline_key_in_the_options_is_refused(scene: Scene) -> None:
    rpc = json.loads((scene.state / "evm" / "devnet.json").read_text())["endpoints"]["rpc"]
    info = scene.evm_info()["extra"]
    assert isinstance(info, dict)
    scene.run(
        scene.ops,
        "chains",
        "add",
        "evm",
        "--chain-id",
        "evm-inline",
        "--rpc",
        rpc,
        "--evm-chain-id",
        str(info["evm_chain_id"]),
        "--registry",
        str(info["registry_address"]),
        "--option",
        f"private_key={scene.submitter_key}",
    )
    shown = scene.run(scene.ops, "chains", "show", "evm-inline", "--json")
    detail = json.loads(shown.stdout)["status"]["detail"]
    assert "invalid evm adapter options: private_key: Extra inputs are not permitted" in detail
    assert scene.submitter_key.removeprefix("0x") not in detail


# 9. The hub reads can_submit.


def test_a_route_to_a_chain_that_cannot_submit_is_refused(scene: Scene) -> None:
    info = scene.evm_info()
    extra = info["extra"]
    endpoints = info["endpoints"]
    assert isinstance(extra, dict) and isinstance(endpoints, dict)
    # Registered without the secret private_key: its adapter says can_submit = false.
    scene.run(
        scene.ops,
        "chains",
        "add",
        "evm",
        "--chain-id",
        "evm-nokey",
        "--rpc",
        str(endpoints["rpc"]),
        "--evm-chain-id",
        str(extra["evm_chain_id"]),
        "--registry",
        str(extra["registry_address"]),
        "--inbox",
        str(extra["inbox_address"]),
    )
    refused = scene.run(
        scene.ops,
        "routes",
        "add",
        "custom-1/licences",
        "evm-nokey/licences",
        check=exit_codes.FAILED,
    )
    assert refused.stderr.strip() == (
        "tonglian: FAILED_PRECONDITION: chain 'evm-nokey' cannot receive deliveries: its adapter "
        "'evm' says can_submit = false; register the chain with the adapter's submit settings "
        "(evm: an inbox address and the secret private_key) before routing to it"
    )
    routes = json.loads(scene.run(scene.ops, "routes", "list", "--json").stdout)
    assert [r for r in routes if r.get("destination_chain_id") == "evm-nokey"] == []


def test_adapter_check_no_write_writes_nothing_to_the_chain(scene: Scene) -> None:
    info = scene.evm_info()
    extra = info["extra"]
    endpoints = info["endpoints"]
    assert isinstance(extra, dict) and isinstance(endpoints, dict)
    accounts = [extra["owner"]["address"], extra["submitter"]["address"]]

    async def nonces() -> list[int]:
        w3 = AsyncWeb3(AsyncHTTPProvider(str(endpoints["rpc"])))
        try:
            return [await w3.eth.get_transaction_count(a) for a in accounts]
        finally:
            await w3.provider.disconnect()

    before = asyncio.run(nonces())
    out = scene.run(
        None, "adapter", "check", "evm", "--from-devnet", "evm", "--no-write", "--json", check=None
    )
    card = json.loads(out.stdout)
    submit = next(c for c in card["clauses"] if c["clause"] == "submit-idempotent")
    assert submit["outcome"] == "skip"
    assert submit["evidence"] == ["--no-write: no delivery submitted (submit writes to the chain)"]
    # Neither the record owner nor the submitter sent a transaction during the check.
    assert asyncio.run(nonces()) == before


# 10. Operator rights scoped per chain.


def test_a_scoped_operator_is_refused_outside_its_chains(scene: Scene, tmp_path: Path) -> None:
    chain = copy.deepcopy(scene.custom.chain)  # the devnet fixture is shared
    chain["chainId"] = "custom-eve"
    path = tmp_path / "custom-eve.json"
    path.write_text(json.dumps(chain))
    refused = scene.run(
        scene.evm_ops, "chains", "add", "--file", str(path), check=exit_codes.DENIED
    )
    assert refused.stderr.strip() == (
        "tonglian: PERMISSION_DENIED: rule 'evm-ops-chains' lets evm-ops operate chains "
        "['evm-*'] only, not 'custom-eve' (register a chain)"
    )
    route = scene.run(
        scene.evm_ops,
        "routes",
        "add",
        "custom-1/licences",
        "evm-1/licences",
        check=exit_codes.DENIED,
    )
    assert route.stderr.strip() == (
        "tonglian: PERMISSION_DENIED: rule 'evm-ops-chains' lets evm-ops operate chains "
        "['evm-*'] only, not 'custom-1' (create a route, its source)"
    )
    audit = scene.run(scene.evm_ops, "audit", "list", check=exit_codes.DENIED)
    assert audit.stderr.strip() == (
        "tonglian: PERMISSION_DENIED: rule 'evm-ops-chains' lets evm-ops operate chains "
        "['evm-*'] only; tonglian.v1.Audit.ListEvents (the audit log) spans every chain and "
        "needs an operator rule for chains ['*']"
    )
    # Inside its scope the same operator may act, on chains that touch nothing outside it:
    # not on one that points at custom-1's ledger (scope follows what a chain touches).
    chain["chainId"] = "evm-eve"
    path.write_text(json.dumps(chain))
    shared = scene.run(scene.evm_ops, "chains", "add", "--file", str(path), check=exit_codes.DENIED)
    assert shared.stderr.strip() == (
        "tonglian: PERMISSION_DENIED: rule 'evm-ops-chains' lets evm-ops operate chains "
        "['evm-*'] only: chain 'evm-eve' would share its endpoint adapter.options.url with a "
        "registered chain outside them, and scope follows what a chain touches (using another "
        "chain's node or secret needs operator rights over that chain too)"
    )
    chain["adapter"]["options"]["url"] = "http://127.0.0.1:9"
    path.write_text(json.dumps(chain))
    scene.run(scene.evm_ops, "chains", "add", "--file", str(path))
    scene.run(scene.evm_ops, "chains", "remove", "evm-eve")
    assert "custom-1" not in scene.run(scene.evm_ops, "routes", "list").stdout


# 10. A closed stdout.


def test_a_closed_stdout_ends_the_cli_without_a_traceback(scene: Scene) -> None:
    env = {
        **os.environ,
        "TONGLIAN_HUB": scene.hub.address,
        "TONGLIAN_CERT": str(scene.ops.cert),
        "TONGLIAN_KEY": str(scene.ops.key),
        "TONGLIAN_CA": str(scene.ops.ca),
    }
    proc = subprocess.Popen(
        [sys.executable, "-P", "-m", "hub.cli.main", "chains", "list"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `| head` that has read enough: nobody reads what follows
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == exit_codes.PIPE_CLOSED
    assert stderr == ""


# 2. Every `pki` verb, as a user runs it.


def test_pki_verbs_init_issue_show_revoke(scene: Scene, tmp_path: Path) -> None:
    fresh = tmp_path / "pki"
    init = scene.run(None, "pki", "init", "--dir", str(fresh))
    assert f"CA        {fresh / pki.CA_CERT}" in init.stdout
    assert (fresh / pki.CRL).is_file()

    folder = scene.hub.pki_dir
    issued = scene.run(
        None, "pki", "issue", "carol", "--org", "market-regulator", "--dir", str(folder)
    )
    assert "subject   CN=carol, OU=agency, O=market-regulator" in issued.stdout
    cert = folder / "carol.crt"
    carol = Credentials(cert, folder / "carol.key", folder / pki.CA_CERT)
    scene.run(carol, "chains", "list")

    # The global --cert (a client certificate) must not replace the verb's CERT.
    shown = scene.run(
        None,
        "--cert",
        str(scene.ops.cert),
        "pki",
        "show",
        str(cert),
        "--dir",
        str(folder),
        "--json",
    )
    info = json.loads(shown.stdout)
    assert info["subject"] == "CN=carol,OU=agency,O=market-regulator"
    assert info["revoked"] is False

    revoked = scene.run(None, "pki", "revoke", str(cert), "--dir", str(folder))
    assert revoked.stdout.startswith(f"revoked   serial {info['serial']};")
    assert (
        json.loads(
            scene.run(None, "pki", "show", str(cert), "--dir", str(folder), "--json").stdout
        )["revoked"]
        is True
    )
    refused = scene.run(carol, "chains", "list", check=None)
    assert refused.returncode == exit_codes.DENIED, (refused.stdout, refused.stderr)
    assert "revoked" in refused.stderr
