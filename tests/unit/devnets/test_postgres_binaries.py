"""Where the PostgreSQL devnet finds the server programs: a fresh Debian machine has
them only in /usr/lib/postgresql/VERSION/bin (not on PATH), and a machine without
them must fail the PostgreSQL tests loudly, never skip them (CI runs them)."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest

from devnets.postgres import network
from devnets.postgres.network import PostgresDevnet, server_bin_dir
from devnets.process import DevnetError

pytest_plugins = ("pytester",)


def programs(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("#!/bin/sh\n")
        (folder / name).chmod(0o755)
    return folder


@pytest.fixture
def debian(tmp_path: Path) -> Path:
    """/usr/lib/postgresql as Debian lays it out: versions 9, 13 and 16 installed
    whole, a newer 17 with only its client side (no initdb, no postgres)."""
    root = tmp_path / "usr/lib/postgresql"
    for version in ("9", "13", "16"):
        programs(root / version / "bin", "initdb", "postgres", "pg_ctl")
    programs(root / "17" / "bin", "pg_dump", "psql")
    programs(root / "common" / "bin", "initdb", "postgres")  # not a version
    return root


def test_newest_complete_debian_version_when_not_on_path(tmp_path: Path, debian: Path) -> None:
    empty = programs(tmp_path / "bin")
    assert server_bin_dir(path=str(empty), debian_root=debian) == debian / "16" / "bin"


def test_path_wins_when_it_holds_both_programs(tmp_path: Path, debian: Path) -> None:
    local = programs(tmp_path / "local/bin", "initdb", "postgres")
    path = f"{tmp_path / 'bin'}:{local}"
    assert server_bin_dir(path=path, debian_root=debian) == local


def test_initdb_alone_on_path_is_not_mixed_with_another_postgres(
    tmp_path: Path, debian: Path
) -> None:
    lone = programs(tmp_path / "other/bin", "initdb")
    assert server_bin_dir(path=str(lone), debian_root=debian) == debian / "16" / "bin"


def test_no_server_programs_anywhere_is_an_actionable_error(tmp_path: Path) -> None:
    with pytest.raises(DevnetError) as err:
        server_bin_dir(path=str(programs(tmp_path / "bin")), debian_root=tmp_path / "none")
    assert "were not found on PATH or in" in str(err.value)
    assert "apt-get install postgresql" in str(err.value)


def test_devnet_up_fails_before_making_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(programs(tmp_path / "bin")))
    monkeypatch.setattr(network, "DEBIAN_ROOT", tmp_path / "none")
    state = tmp_path / "state"
    with pytest.raises(DevnetError, match="install the server"):
        asyncio.run(PostgresDevnet(state).up(lambda _line: None))
    assert not state.exists()


def test_postgres_tests_error_rather_than_skip_without_the_server(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fixtures the PostgreSQL tests use, in a pytest run of their own on a CI
    machine (CI=true) without the server: the test errors, it is not skipped."""
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("PATH", str(programs(tmp_path / "bin")))
    monkeypatch.setattr(network, "DEBIAN_ROOT", tmp_path / "none")
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        textwrap.dedent(
            """
            def test_needs_postgres(postgres_url):
                assert postgres_url
            """
        )
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*DevnetError: PostgreSQL's server programs*"])
