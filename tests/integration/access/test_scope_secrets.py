"""Scope that cannot be sidestepped, and secrets confined to their chain (issue 27, attacks 1-2).

One hub over mutual TLS (module scope) with an operator scoped to `custom-*`, the
custom ledger, an anvil devnet started with `tonglian devnet up evm`, and `tonglian`
run as a child process with each principal's certificate. Attack 1: the scoped
operator registers `custom-evil` on evm-1's node with evm-1's submitter key, then routes
to it. Attack 2: a chain names files of the hub's machine as its secrets.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf.json_format import MessageToDict, ParseDict

from adapters.fabric.registration import fabric_trust_anchor
from devnets.base import DevnetInfo
from hub.cli import exit_codes
from hub.cli.connection import open_channel
from tonglian.v1 import chains_pb2, chains_pb2_grpc
from tonglian_client.credentials import Credentials
from tonglian_tools.hub_process import OPERATOR_ORG, HubProcess

from .cli_scene import CliScene

pytestmark = pytest.mark.integration

ALLOWED_ENV = "TONGLIAN_TEST_LEDGER_TOKEN"
POLICY = f"""\
version: 1
principals:
  {OPERATOR_ORG}:
    operator: true
    rules:
      - name: ops-read-everything
        chains: ["*"]
        purposes: ["*"]
  custom-ops:
    operator:
      name: ops-custom
      chains: ["custom-*"]
  market-regulator:
    rules:
      - name: regulator-reads
        chains: ["*"]
        purposes: ["*"]
"""
SHARED = (
    "and scope follows what a chain touches (using another chain's node or secret needs "
    "operator rights over that chain too)"
)


def refused_ref(name: str) -> str:
    """The one message every secret reference outside the chain's own store gets."""
    return (
        f"chain.adapter.secrets[{name!r}] is refused: a chain's secret is an entry of its own "
        "secret store (`tonglian secrets put CHAIN NAME`, referenced as store: NAME) or an "
        "environment variable listed in the hub's secret_env"
    )


class Scene(CliScene):
    def __init__(self, hub: HubProcess, state: Path, cwd: Path, custom: DevnetInfo) -> None:
        super().__init__(hub, state, cwd)
        self.custom = custom
        self.scoped = hub.issue("carol", org="custom-ops", role="operator")
        self.agency = hub.issue("alice", org="market-regulator")

    def evm(self) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.state / "evm" / "devnet.json").read_text())
        return data

    @property
    def rpc(self) -> str:
        endpoints = self.evm()["endpoints"]
        assert isinstance(endpoints, dict)
        return str(endpoints["rpc"])

    @property
    def submitter_key(self) -> str:
        extra = self.evm()["extra"]
        assert isinstance(extra, dict)
        return str(extra["submitter"]["private_key"])

    def evm_args(self, chain_id: str, rpc: str, key_file: Path) -> list[str]:
        """`chains add evm` for the devnet's contracts, at `rpc`, with `key_file`."""
        extra = self.evm()["extra"]
        assert isinstance(extra, dict)
        return [
            "chains", "add", "evm", "--chain-id", chain_id, "--rpc", rpc,
            "--evm-chain-id", str(extra["evm_chain_id"]),
            "--registry", str(extra["registry_address"]),
            "--inbox", str(extra["inbox_address"]),
            "--private-key-file", str(key_file),
        ]  # fmt: skip

    def custom_chain(self, chain_id: str, url: str) -> dict[str, object]:
        """The custom ledger's registration as JSON, renamed and pointed at `url`."""
        chain = json.loads(json.dumps(self.custom.chain))
        chain["chainId"] = chain_id
        chain["adapter"]["options"]["url"] = url
        return chain

    async def register_raw(
        self, creds: Credentials, chain: dict[str, object]
    ) -> grpc.aio.AioRpcError:
        """RegisterChain sent as is (no tool in between), expected to be refused."""
        message = ParseDict(chain, chains_pb2.Chain())
        async with open_channel(self.hub.address, creds) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await chains_pb2_grpc.ChainRegistryStub(channel).RegisterChain(
                    chains_pb2.RegisterChainRequest(chain=message), timeout=30
                )
        return err.value


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, custom_ledger: DevnetInfo) -> Iterator[Scene]:
    root = tmp_path_factory.mktemp("scope")
    hub = HubProcess(
        root / "hub", policy=POLICY, env={"TONGLIAN_SECRET_ENV": ALLOWED_ENV, ALLOWED_ENV: "t0k"}
    )
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


# Attack 1: a scoped operator reaches a chain outside its scope through one it names.


def test_custom_evil_with_evm1s_key_is_refused(scene: Scene) -> None:
    evm_key = scene.state / "evm" / "submitter.key"
    refused = scene.run(
        scene.scoped, *scene.evm_args("custom-evil", scene.rpc, evm_key), check=exit_codes.DENIED
    )
    assert refused.stderr.strip() == (
        "tonglian: PERMISSION_DENIED: rule 'ops-custom' lets custom-ops operate chains "
        "['custom-*'] only: chain 'custom-evil' would share its secret 'private_key' with a "
        f"registered chain outside them, {SHARED}"
    )
    # The key never reached custom-evil's store, and nothing was registered.
    listed = scene.run(scene.scoped, "secrets", "list", "custom-evil", "--json")
    assert json.loads(listed.stdout) == []
    assert not (scene.hub.data_dir / "secrets" / "custom-evil" / "private_key").exists()


def test_custom_evil_on_evm1s_node_is_refused_however_the_url_is_spelled(
    scene: Scene, tmp_path: Path
) -> None:
    own_key = tmp_path / "own.key"
    own_key.write_text("0x" + "11" * 32 + "\n")
    own_key.chmod(0o600)
    port = scene.rpc.rsplit(":", 1)[1]
    for rpc in (scene.rpc, f"http://localhost:{port}/", f"HTTP://[::1]:{port}/rpc"):
        refused = scene.run(
            scene.scoped, *scene.evm_args("custom-evil", rpc, own_key), check=exit_codes.DENIED
        )
        assert refused.stderr.strip() == (
            "tonglian: PERMISSION_DENIED: rule 'ops-custom' lets custom-ops operate chains "
            "['custom-*'] only: chain 'custom-evil' would share its endpoint "
            f"adapter.options.rpc_url with a registered chain outside them, {SHARED}"
        ), rpc
    # Then the route of the attack: custom-evil does not exist, evm-1 is out of scope.
    extra = scene.evm()["extra"]
    assert isinstance(extra, dict)
    inbox = str(extra["inbox_address"])
    to_evil = scene.run(
        scene.scoped,
        "routes", "add", "custom-1/licences", f"custom-evil/{inbox}",
        check=exit_codes.NOT_FOUND,
    )  # fmt: skip
    assert to_evil.stderr.strip() == (
        "tonglian: NOT_FOUND: no chain 'custom-evil' is registered; `tonglian chains list` "
        "shows them"
    )
    to_evm = scene.run(
        scene.scoped,
        "routes", "add", "custom-1/licences", f"evm-1/{inbox}",
        check=exit_codes.DENIED,
    )  # fmt: skip
    assert to_evm.stderr.strip() == (
        "tonglian: PERMISSION_DENIED: rule 'ops-custom' lets custom-ops operate chains "
        "['custom-*'] only, not 'evm-1' (create a route, its destination)"
    )
    routes = json.loads(scene.run(scene.ops, "routes", "list", "--json").stdout)
    assert routes == []


def test_the_hubs_operator_may_share_a_node_it_operates(scene: Scene, tmp_path: Path) -> None:
    """The rule binds scoped operators only: `operator: true` covers every chain."""
    own_key = tmp_path / "own.key"
    own_key.write_text("0x" + "22" * 32)
    scene.run(scene.ops, *scene.evm_args("evm-twin", scene.rpc, own_key))
    shown = json.loads(scene.run(scene.ops, "chains", "show", "evm-twin", "--json").stdout)
    assert shown["adapter"]["secrets"] == {"private_key": {"store": "private_key"}}
    scene.run(scene.ops, "chains", "remove", "evm-twin")


def test_a_scoped_operator_sees_other_chains_as_an_agency_does(scene: Scene) -> None:
    key = scene.submitter_key.removeprefix("0x")
    for creds in (scene.scoped, scene.agency):
        shown = scene.run(creds, "chains", "show", "evm-1", "--json")
        chain = json.loads(shown.stdout)
        assert "adapter" not in chain
        assert "rpc_endpoints" not in chain["trust_anchor"]["evm"]
        assert chain["trust_anchor"]["evm"]["chain_id"] and chain["kind"] == "CHAIN_KIND_EVM"
        listed = scene.run(creds, "chains", "list", "--json").stdout
        evm = next(c for c in json.loads(listed) if c["chain_id"] == "evm-1")
        assert "adapter" not in evm and "rpc_endpoints" not in evm["trust_anchor"]["evm"]
        for text in (shown.stdout, json.dumps(evm)):
            assert scene.rpc.removeprefix("http://") not in text
            assert "private_key" not in text and "secrets" not in text
            assert key not in text.lower()
    # Its own chains it sees whole.
    own = json.loads(scene.run(scene.scoped, "chains", "show", "custom-1", "--json").stdout)
    assert own["adapter"]["options"]["url"] == scene.custom.chain["adapter"]["options"]["url"]


def test_why_a_chain_is_down_is_told_to_its_operators_only(scene: Scene, tmp_path: Path) -> None:
    down = "http://127.0.0.1:11"
    key = tmp_path / "down.key"
    key.write_text("0x" + "33" * 32)
    scene.run(scene.ops, *scene.evm_args("evm-down", down, key))
    try:
        seen = json.loads(scene.run(scene.ops, "chains", "show", "evm-down", "--json").stdout)
        assert seen["status"]["detail"].startswith("UNAVAILABLE: chain 'evm-down' is unreachable")
        assert "127.0.0.1:11" in seen["status"]["detail"]
        for creds in (scene.scoped, scene.agency):
            shown = scene.run(creds, "chains", "show", "evm-down", "--json")
            assert json.loads(shown.stdout)["status"] == {
                "detail": "UNAVAILABLE: chain 'evm-down' cannot report its head now; its "
                "operators see why"
            }
            assert "127.0.0.1" not in shown.stdout
    finally:
        scene.run(scene.ops, "chains", "remove", "evm-down")


# Attack 2: any file on the hub's machine named as a secret.


def test_secret_paths_and_unlisted_variables_get_one_message(scene: Scene) -> None:
    probes = [
        {"file": "/etc/passwd"},
        {"file": "/etc/shadow"},
        {"file": "/nonexistent"},
        {"file": "pki/ca.key"},
        {"file": "dev-pki/ca.key"},
        {"file": str(scene.hub.pki_dir / "ca.key")},
        {"file": "../x"},
        {"file": "secrets/evm-1/private_key"},
        {"store": "../x"},
        {"store": "../evm-1/private_key"},
        {"env": "HOME"},
        {"env": "../x"},
    ]
    for ref in probes:
        chain = scene.custom_chain("custom-probe", "http://127.0.0.1:9")
        chain["adapter"]["secrets"] = {"token": ref}  # type: ignore[index]
        err = asyncio.run(scene.register_raw(scene.scoped, chain))
        assert (err.code(), err.details()) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            refused_ref("token"),
        ), ref
    # The same through the CLI, for references it passes on as they are.
    path = scene.cwd / "probe.json"
    path.write_text(json.dumps(scene.custom_chain("custom-probe", "http://127.0.0.1:9")))
    for secret in ("token=store:../x", "token=env:HOME", "token=env:PGPASSWORD"):
        out = scene.run(
            scene.scoped, "chains", "add", "--file", str(path), "--secret", secret,
            check=exit_codes.USAGE,
        )  # fmt: skip
        assert out.stderr.strip() == f"tonglian: INVALID_ARGUMENT: {refused_ref('token')}"
    assert "custom-probe" not in scene.run(scene.ops, "chains", "list").stdout


def test_a_missing_entry_of_the_chains_own_store_is_named(scene: Scene) -> None:
    chain = scene.custom_chain("custom-probe", "http://127.0.0.1:9")
    chain["adapter"]["secrets"] = {"token": {"store": "nothere"}}  # type: ignore[index]
    err = asyncio.run(scene.register_raw(scene.scoped, chain))
    assert (err.code(), err.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "chain.adapter.secrets['token']: the secret store of chain 'custom-probe' has no entry "
        "'nothere' on this hub; put it first: `tonglian secrets put custom-probe nothere "
        "--file FILE`",
    )


def test_an_allowed_environment_variable_may_be_referenced(scene: Scene) -> None:
    path = scene.cwd / "env.json"
    path.write_text(json.dumps(scene.custom_chain("custom-env", "http://127.0.0.1:9")))
    scene.run(
        scene.scoped, "chains", "add", "--file", str(path), "--secret", f"token=env:{ALLOWED_ENV}"
    )
    shown = json.loads(scene.run(scene.scoped, "chains", "show", "custom-env", "--json").stdout)
    assert shown["adapter"]["secrets"] == {"token": {"env": ALLOWED_ENV}}
    scene.run(scene.scoped, "chains", "remove", "custom-env")


# Attack 2 through the Fabric adapter's options: files named as certificates or key.

FABRIC_DATA = Path(__file__).resolve().parents[2] / "data" / "fabric"
FABRIC_TLS_CA = (FABRIC_DATA / "certs" / "Org1MSP" / "tlsca.pem").read_text()
FABRIC_PATHS_REFUSED = (
    "fabric adapter options name files (identity.cert, identity.key or a peer's "
    "tls_root_cert), which the hub never opens: give the certificates inline as PEM text "
    "(identity.cert_pem, peers[].tls_root_cert_pem) and the identity's private key as the "
    "chain's secret 'identity_key' (`tonglian secrets put CHAIN identity_key --file KEY`)"
)


def fabric_chain_json(
    chain_id: str, identity: dict[str, str], peer: dict[str, str]
) -> dict[str, Any]:
    """A Fabric registration (the recorded channel's config block as its anchor) with
    the given identity and peer options."""
    anchor = fabric_trust_anchor(FABRIC_DATA / "config-block.pb")
    chain = chains_pb2.Chain(
        chain_id=chain_id, kind=chains_pb2.CHAIN_KIND_FABRIC, trust_anchor=anchor
    )
    chain.adapter.adapter = "fabric"
    chain.adapter.options.update(
        {
            "channel": anchor.fabric.channel,
            "chaincode": "records",
            "peers": [{"endpoint": "127.0.0.1:9", "msp_id": "Org1MSP", **peer}],
            "identity": {"msp_id": "Org1MSP", **identity},
        }
    )
    return MessageToDict(chain)


def test_fabric_options_naming_files_get_one_message(scene: Scene) -> None:
    ca_key = str(scene.hub.pki_dir / "ca.key")
    inline = {"tls_root_cert_pem": FABRIC_TLS_CA}
    probes: list[tuple[dict[str, str], dict[str, str]]] = []
    for path in ("/etc/passwd", "/nonexistent", ca_key, "pki/ca.key", "../x"):
        probes += [
            ({"cert": path, "key": path}, inline),
            ({"cert_pem": FABRIC_TLS_CA, "key": path}, inline),
            ({"cert": path}, inline),
            ({"cert_pem": FABRIC_TLS_CA}, {"tls_root_cert": path}),
        ]
    for creds in (scene.scoped, scene.ops):
        for identity, peer in probes:
            chain = fabric_chain_json("custom-fab", identity, peer)
            err = asyncio.run(scene.register_raw(creds, chain))
            assert (err.code(), err.details()) == (
                grpc.StatusCode.INVALID_ARGUMENT,
                FABRIC_PATHS_REFUSED,
            ), (identity, peer)
    # The same through the CLI, and nothing was registered.
    path = scene.cwd / "fabric-probe.json"
    path.write_text(json.dumps(fabric_chain_json("custom-fab", {"cert": ca_key}, inline)))
    out = scene.run(scene.scoped, "chains", "add", "--file", str(path), check=exit_codes.USAGE)
    assert out.stderr.strip() == f"tonglian: INVALID_ARGUMENT: {FABRIC_PATHS_REFUSED}"
    assert "custom-fab" not in scene.run(scene.ops, "chains", "list").stdout


def test_a_fabric_identity_is_inline_pem_and_a_store_secret(scene: Scene, tmp_path: Path) -> None:
    """The accepted shape: certificates inline, the key an entry of the chain's store."""
    key = tmp_path / "identity.key"
    key.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    scene.run(scene.scoped, "secrets", "put", "custom-fab", "identity_key", "--file", str(key))
    chain = fabric_chain_json(
        "custom-fab", {"cert_pem": FABRIC_TLS_CA}, {"tls_root_cert_pem": FABRIC_TLS_CA}
    )
    chain["adapter"]["secrets"] = {"identity_key": {"store": "identity_key"}}
    path = scene.cwd / "fabric.json"
    path.write_text(json.dumps(chain))
    scene.run(scene.scoped, "chains", "add", "--file", str(path))
    try:
        shown = json.loads(scene.run(scene.scoped, "chains", "show", "custom-fab", "--json").stdout)
        assert shown["adapter"]["secrets"] == {"identity_key": {"store": "identity_key"}}
        assert shown["adapter"]["options"]["identity"]["cert_pem"] == FABRIC_TLS_CA
    finally:
        scene.run(scene.scoped, "chains", "remove", "custom-fab")
        scene.run(scene.scoped, "secrets", "rm", "custom-fab", "identity_key")


# `tonglian secrets`: put, list, rm, within scope, values never shown.


def test_secrets_put_list_rm_are_scoped_and_show_names_only(scene: Scene, tmp_path: Path) -> None:
    value = "s3cr3t-ledger-token-0042"
    source = tmp_path / "token"
    source.write_text(value + "\n")
    put = scene.run(scene.scoped, "secrets", "put", "custom-2", "token", "--file", str(source))
    assert put.stdout.strip() == "put secret token of chain custom-2"
    stored = scene.hub.data_dir / "secrets" / "custom-2" / "token"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert stored.read_text() == value + "\n"
    os.environ["MY_TOKEN"] = "from-env"  # the CLI's own environment, not the hub's
    try:
        scene.run(scene.scoped, "secrets", "put", "custom-2", "api_key", "--env", "MY_TOKEN")
    finally:
        del os.environ["MY_TOKEN"]
    listed = scene.run(scene.scoped, "secrets", "list", "custom-2", "--json")
    assert json.loads(listed.stdout) == ["api_key", "token"]
    assert value not in listed.stdout
    # Outside its scope: refused naming the rule, before anything is read or written.
    for argv, what in (
        (("put", "evm-1", "private_key", "--file", str(source)), "put a secret"),
        (("list", "evm-1"), "list its secrets"),
        (("rm", "evm-1", "private_key"), "remove a secret"),
    ):
        denied = scene.run(scene.scoped, "secrets", *argv, check=exit_codes.DENIED)
        assert denied.stderr.strip() == (
            "tonglian: PERMISSION_DENIED: rule 'ops-custom' lets custom-ops operate chains "
            f"['custom-*'] only, not 'evm-1' ({what})"
        )
    agency = scene.run(scene.agency, "secrets", "list", "custom-2", check=exit_codes.DENIED)
    assert agency.stderr.strip() == (
        "tonglian: PERMISSION_DENIED: tonglian.v1.ChainRegistry.ListSecrets needs operator "
        "rights: the certificate of market-regulator/alice has role agency"
    )
    bad = scene.run(
        scene.scoped, "secrets", "put", "custom-2", "../x", "--file", str(source),
        check=exit_codes.USAGE,
    )  # fmt: skip
    assert bad.stderr.strip() == (
        "tonglian: INVALID_ARGUMENT: secret name '../x' is not valid: use 1 to 63 lower-case "
        "letters, digits and '_', starting with a letter"
    )
    scene.run(scene.scoped, "secrets", "rm", "custom-2", "token")
    scene.run(scene.scoped, "secrets", "rm", "custom-2", "api_key")
    assert json.loads(scene.run(scene.scoped, "secrets", "list", "custom-2", "--json").stdout) == []
    gone = scene.run(scene.scoped, "secrets", "rm", "custom-2", "token", check=exit_codes.NOT_FOUND)
    assert gone.stderr.strip() == (
        "tonglian: NOT_FOUND: chain 'custom-2' has no secret 'token' in its store on this hub"
    )
    # Audited by name, never by value.
    audit = scene.run(scene.ops, "audit", "list", "--limit", "1000", "--json").stdout
    events = [json.loads(line) for line in audit.splitlines()]
    events = [e for e in events if e["action"] == "chains.put_secret"]
    assert any(e["target"] == "custom-2" and e["outcome"] == "ok" for e in events)
    assert any(e["target"] == "evm-1" and e["outcome"].startswith("denied:") for e in events)
    for text in (audit, scene.hub.log_path.read_text()):
        assert value not in text and "from-env" not in text


# Replicas: each keeps its own store, in its own data dir; no secret enters the database.


async def test_each_replica_reads_secrets_from_its_own_store(
    tmp_path: Path, postgres_url: str, custom_ledger: DevnetInfo
) -> None:
    hubs = {
        name: HubProcess(
            tmp_path / name,
            insecure=True,
            extra_args=("--store", postgres_url, "--replica-id", name),
        )
        for name in ("hub-a", "hub-b")
    }
    chain = ParseDict(custom_ledger.chain, chains_pb2.Chain())
    chain.chain_id = "custom-r"
    chain.adapter.secrets["token"].store = "token"
    put = chains_pb2.PutSecretRequest(chain_id="custom-r", name="token", value=b"replica-token")
    try:
        for hub in hubs.values():
            hub.start()
        await asyncio.gather(*(hub.wait_serving() for hub in hubs.values()))
        async with (
            open_channel(hubs["hub-a"].address, insecure=True) as a,
            open_channel(hubs["hub-b"].address, insecure=True) as b,
        ):
            stub_a, stub_b = (
                chains_pb2_grpc.ChainRegistryStub(a),
                chains_pb2_grpc.ChainRegistryStub(b),
            )
            await stub_a.PutSecret(put, timeout=10)
            await stub_a.RegisterChain(chains_pb2.RegisterChainRequest(chain=chain), timeout=10)
            status = chains_pb2.GetChainStatusRequest(chain_id="custom-r")
            assert (await stub_a.GetChainStatus(status, timeout=10)).detail == "ok"
            # B shares the registration (the database) but not the secret (A's data dir).
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub_b.GetChainStatus(status, timeout=10)
            assert (err.value.code(), err.value.details()) == (
                grpc.StatusCode.FAILED_PRECONDITION,
                "secret 'token': the secret store of chain 'custom-r' on this replica has no "
                "entry 'token'; `tonglian secrets put custom-r token --file FILE` against this "
                "replica",
            )
            listed = chains_pb2.ListSecretsRequest(chain_id="custom-r")
            assert list((await stub_b.ListSecrets(listed, timeout=10)).names) == []
            await stub_b.PutSecret(put, timeout=10)
            assert list((await stub_b.ListSecrets(listed, timeout=10)).names) == ["token"]
            assert (await stub_b.GetChainStatus(status, timeout=10)).detail == "ok"
        for name, hub in hubs.items():
            stored = hub.data_dir / "secrets" / "custom-r" / "token"
            assert stat.S_IMODE(stored.stat().st_mode) == 0o600, name
    finally:
        for hub in hubs.values():
            hub.stop()
    # The shared database never held the value: every row of every table, as text (bytea
    # columns, serialized messages among them, appear in hex).
    rows = await database_text(postgres_url)
    assert "custom-r" in rows
    assert "replica-token" not in rows and b"replica-token".hex() not in rows


async def database_text(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT quote_ident(table_name) AS t FROM information_schema.tables "
            "WHERE table_schema = 'public'"
        )
        texts = []
        for table in tables:
            rows = await conn.fetch(f"SELECT r::text AS row FROM {table['t']} r")
            texts += [row["row"] for row in rows]
        return "\n".join(texts)
    finally:
        await conn.close()
