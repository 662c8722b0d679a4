"""A registration's file secrets are read where the client runs and become store entries."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from tonglian.v1 import chains_pb2
from tonglian_client.errors import InvalidRequest
from tonglian_client.secret_files import staged


def test_file_secrets_become_puts_and_store_references(tmp_path: Path) -> None:
    key = tmp_path / "submitter.key"
    key.write_text("0xabc\n")
    chain = chains_pb2.Chain(chain_id="evm-1")
    chain.adapter.secrets["private_key"].file = str(key)
    chain.adapter.secrets["token"].env = "TOKEN"
    chain.adapter.secrets["other"].store = "other"
    to_register, puts = staged(chain)
    assert puts == [
        chains_pb2.PutSecretRequest(chain_id="evm-1", name="private_key", value=b"0xabc\n")
    ]
    assert dict(to_register.adapter.secrets) == {
        "private_key": chains_pb2.SecretRef(store="private_key"),
        "token": chains_pb2.SecretRef(env="TOKEN"),
        "other": chains_pb2.SecretRef(store="other"),
    }
    assert chain.adapter.secrets["private_key"].file == str(key)  # the caller's is untouched


def test_an_unreadable_or_oversized_file_is_refused_here(tmp_path: Path) -> None:
    chain = chains_pb2.Chain(chain_id="evm-1")
    chain.adapter.secrets["private_key"].file = str(tmp_path / "missing.key")
    with pytest.raises(InvalidRequest) as err:
        staged(chain)
    assert err.value.status == grpc.StatusCode.INVALID_ARGUMENT
    assert str(err.value) == (
        f"cannot read secret file {tmp_path / 'missing.key'}: No such file or directory"
    )
    big = tmp_path / "big.key"
    big.write_bytes(b"x" * (64 * 1024 + 1))
    chain.adapter.secrets["private_key"].file = str(big)
    with pytest.raises(InvalidRequest) as err:
        staged(chain)
    assert str(err.value) == f"secret file {big} is larger than 65536 bytes"
