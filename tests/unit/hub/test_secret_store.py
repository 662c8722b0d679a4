"""The per-chain secret store and the references a chain may make to it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hub import secrets
from hub.errors import ChainMisconfigured, InvalidInput
from hub.secret_store import SecretStore, digest_of
from tonglian.v1 import chains_pb2


def chain_with(chain_id: str, **refs: chains_pb2.SecretRef) -> chains_pb2.Chain:
    chain = chains_pb2.Chain(chain_id=chain_id)
    for name, ref in refs.items():
        chain.adapter.secrets[name].CopyFrom(ref)
    return chain


async def test_put_writes_0600_in_a_0700_folder_of_the_chain(tmp_path: Path) -> None:
    store = SecretStore(tmp_path)
    await store.put("evm-1", "private_key", b"0xabc\n")
    path = tmp_path / "secrets" / "evm-1" / "private_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_bytes() == b"0xabc\n"
    assert await store.names("evm-1") == ["private_key"]
    assert await store.names("evm-2") == []
    secret = store.read("evm-1", "private_key")
    assert secret is not None and secret.reveal() == "0xabc"
    # Replacing keeps the mode, leaves no temporary file behind.
    await store.put("evm-1", "private_key", b"0xdef")
    assert [p.name for p in path.parent.iterdir()] == ["private_key"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_remove_and_names_show_names_only(tmp_path: Path) -> None:
    store = SecretStore(tmp_path)
    await store.put("c-1", "b", b"1")
    await store.put("c-1", "a", b"2")
    assert await store.names("c-1") == ["a", "b"]
    assert await store.remove("c-1", "a") is True
    assert await store.remove("c-1", "a") is False
    assert await store.names("c-1") == ["b"]


@pytest.mark.parametrize("name", ["../x", "a/b", "", "X", ".hidden", "a" * 64, "1a"])
async def test_a_name_that_is_not_a_plain_name_is_refused(tmp_path: Path, name: str) -> None:
    store = SecretStore(tmp_path)
    with pytest.raises(InvalidInput) as err:
        await store.put("c-1", name, b"v")
    assert str(err.value) == (
        f"secret name {name[:40]!r} is not valid: use 1 to 63 lower-case letters, digits "
        "and '_', starting with a letter"
    )
    assert not (tmp_path / "secrets").exists()


@pytest.mark.parametrize("chain_id", ["..", "../etc", "A", "", "a/b"])
async def test_a_chain_id_that_is_not_a_folder_name_is_refused(
    tmp_path: Path, chain_id: str
) -> None:
    with pytest.raises(InvalidInput, match="is not valid"):
        await SecretStore(tmp_path).put(chain_id, "k", b"v")


async def test_empty_and_oversized_values_are_refused(tmp_path: Path) -> None:
    store = SecretStore(tmp_path)
    with pytest.raises(InvalidInput) as err:
        await store.put("c-1", "k", b" \n")
    assert str(err.value) == "secret 'k' is empty"
    with pytest.raises(InvalidInput) as err:
        await store.put("c-1", "k", b"x" * (64 * 1024 + 1))
    assert str(err.value) == "secret 'k' is larger than 65536 bytes"
    with pytest.raises(InvalidInput) as err:
        await store.put("c-1", "k", b"\xff\xfe")
    assert str(err.value) == "secret 'k' is not UTF-8 text"


def test_digest_is_one_spelling_of_a_hex_key() -> None:
    assert digest_of(b"0xABcd\n") == digest_of(b"abcd") == digest_of(b"  0XabCD ")
    assert digest_of(b"Password") != digest_of(b"password")


REFUSED = (
    "chain.adapter.secrets['k'] is refused: a chain's secret is an entry of its own secret "
    "store (`tonglian secrets put CHAIN NAME`, referenced as store: NAME) or an environment "
    "variable listed in the hub's secret_env"
)


@pytest.mark.parametrize(
    "ref",
    [
        chains_pb2.SecretRef(file="/etc/passwd"),
        chains_pb2.SecretRef(file="/etc/shadow"),
        chains_pb2.SecretRef(file="/nonexistent"),
        chains_pb2.SecretRef(file="pki/ca.key"),
        chains_pb2.SecretRef(file="../x"),
        chains_pb2.SecretRef(file="secrets/c-1/k"),
        chains_pb2.SecretRef(store="../x"),
        chains_pb2.SecretRef(store="/etc/passwd"),
        chains_pb2.SecretRef(env="HOME"),
        chains_pb2.SecretRef(env="../x"),
    ],
)
async def test_every_reference_outside_the_chains_own_gets_one_message(
    tmp_path: Path, ref: chains_pb2.SecretRef
) -> None:
    store = SecretStore(tmp_path, ("ALLOWED",))
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.key").write_text("key")
    await store.put("c-1", "k", b"v")
    with pytest.raises(InvalidInput) as err:
        await secrets.check_confined("c-1", chain_with("c-1", k=ref).adapter, store)
    assert str(err.value) == REFUSED


async def test_another_chains_entry_is_not_the_chains_own(tmp_path: Path) -> None:
    store = SecretStore(tmp_path)
    await store.put("evm-1", "private_key", b"0xabc")
    chain = chain_with("custom-evil", private_key=chains_pb2.SecretRef(store="private_key"))
    with pytest.raises(InvalidInput) as err:
        await secrets.check_confined("custom-evil", chain.adapter, store)
    assert str(err.value) == (
        "chain.adapter.secrets['private_key']: the secret store of chain 'custom-evil' has no "
        "entry 'private_key' on this hub; put it first: `tonglian secrets put custom-evil "
        "private_key --file FILE`"
    )


async def test_own_entries_and_allowed_variables_resolve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLOWED", "from-env")
    store = SecretStore(tmp_path, ("ALLOWED",))
    await store.put("c-1", "token", b"from-store\n")
    chain = chain_with(
        "c-1",
        a=chains_pb2.SecretRef(store="token"),
        b=chains_pb2.SecretRef(env="ALLOWED"),
    )
    await secrets.check_confined("c-1", chain.adapter, store)
    resolved = secrets.resolve(chain, store)
    assert {k: v.reveal() for k, v in resolved.items()} == {"a": "from-store", "b": "from-env"}


async def test_a_chain_registered_with_a_path_is_refused_when_its_adapter_is_made(
    tmp_path: Path,
) -> None:
    """A registration stored before secrets were confined is not read from its path."""
    secret_file = tmp_path / "old.key"
    secret_file.write_text("0xabc")
    secret_file.chmod(0o600)
    chain = chain_with("evm-1", private_key=chains_pb2.SecretRef(file=str(secret_file)))
    with pytest.raises(ChainMisconfigured) as err:
        secrets.resolve(chain, SecretStore(tmp_path))
    assert str(err.value) == (
        "secret 'private_key' of chain 'evm-1' is not an entry of its own secret store or an "
        "allowed environment variable; put it (`tonglian secrets put evm-1 private_key --file "
        "FILE`) and register the chain again"
    )


async def test_a_missing_entry_is_named_when_the_adapter_is_made(tmp_path: Path) -> None:
    chain = chain_with("evm-1", private_key=chains_pb2.SecretRef(store="private_key"))
    with pytest.raises(ChainMisconfigured) as err:
        secrets.resolve(chain, SecretStore(tmp_path))
    assert str(err.value) == (
        "secret 'private_key': the secret store of chain 'evm-1' on this replica has no entry "
        "'private_key'; `tonglian secrets put evm-1 private_key --file FILE` against this replica"
    )
