from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import load_settings
from hub.errors import InvalidInput


def test_file_then_environment_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "hub.toml"
    f.write_text('[hub]\nlisten = "127.0.0.1:6000"\nadapter_timeout = 3\nverify_workers = 4\n')
    monkeypatch.setenv("TONGLIAN_ADAPTER_TIMEOUT", "7")
    s = load_settings(f, verify_workers=1)
    assert s.listen == "127.0.0.1:6000"
    assert s.adapter_timeout == 7
    assert s.verify_workers == 1


def test_yaml_file(tmp_path: Path) -> None:
    f = tmp_path / "hub.yaml"
    f.write_text("listen: 0.0.0.0:7000\n")
    assert load_settings(f).listen == "0.0.0.0:7000"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("hub.toml", "listen = ", "settings file {path} does not parse"),
        ("hub.ini", "x", "settings file {path} must end in .toml, .yaml or .yml"),
        ("hub.yaml", "- a\n- b\n", "settings file {path} must hold a table of settings"),
        (
            "hub.toml",
            'listen = "nope"',
            "invalid hub settings: listen: Value error, listen must be HOST:PORT, got 'nope'",
        ),
        (
            "hub.toml",
            'store = "mysql://root@db/x"',
            "invalid hub settings: store: Value error, store must be a postgresql://USER@HOST:PORT"
            "/DB URL (or empty for SQLite), got 'db/x'",
        ),
        ("hub.toml", "bogus = 1", "invalid hub settings: bogus: Extra inputs are not permitted"),
        (
            "hub.toml",
            "verify_workers = -1",
            "invalid hub settings: verify_workers: Input should be greater than or equal to 0",
        ),
    ],
)
def test_bad_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    f = tmp_path / name
    f.write_text(content)
    with pytest.raises(InvalidInput) as err:
        load_settings(f)
    assert str(err.value).startswith(message.format(path=f))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(
        InvalidInput, match=r"cannot read settings file .*: No such file or directory"
    ):
        load_settings(tmp_path / "absent.toml")


def test_store_from_file_environment_or_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "hub.toml"
    f.write_text('store = "postgresql://hub@file:5432/t"\nreplica_id = "hub-a"\n')
    s = load_settings(f)
    assert (s.store, s.replica_id) == ("postgresql://hub@file:5432/t", "hub-a")
    monkeypatch.setenv("TONGLIAN_STORE", "postgresql://hub@env:5432/t")
    assert load_settings(f).store == "postgresql://hub@env:5432/t"
    assert load_settings(f, store="postgresql://hub@flag:5432/t").store.endswith("@flag:5432/t")
    monkeypatch.delenv("TONGLIAN_STORE")
    assert load_settings().store == ""  # SQLite in the data folder, as before


def test_environment_names_any_case_and_values_are_validated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("tonglian_verify_workers", "0")
    monkeypatch.setenv("TONGLIAN_INSECURE", "yes")
    monkeypatch.setenv("TONGLIAN_NOT_A_SETTING", "ignored")
    s = load_settings()
    assert (s.verify_workers, s.insecure) == (0, True)
    monkeypatch.setenv("TONGLIAN_MAX_MESSAGE_BYTES", "12")
    with pytest.raises(InvalidInput) as err:
        load_settings()
    assert str(err.value) == (
        "invalid hub settings: max_message_bytes: Input should be greater than or equal to 65536"
    )


def test_unknown_setting_in_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_text('[hub]\nlisten = "127.0.0.1:1"\nlisten_port = 5\n')
    with pytest.raises(InvalidInput) as err:
        load_settings(path)
    assert str(err.value) == "invalid hub settings: listen_port: Extra inputs are not permitted"
