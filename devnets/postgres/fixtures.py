"""Pytest fixtures that run a real PostgreSQL server (loaded by devnets.pytest_plugin).

`postgres_server` starts one server per session, bound to the test process (it
dies with it), with the same code as `tonglian devnet up postgres`;
`postgres_url` gives each test a database of its own on it, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import asyncpg
import pytest

from devnets.base import DevnetInfo
from devnets.postgres.network import PostgresDevnet, url_of


@pytest.fixture(scope="session")
def postgres_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresDevnet]:
    devnet = PostgresDevnet(tmp_path_factory.mktemp("postgres-devnet"), bind_to_parent=True)
    try:
        asyncio.run(devnet.up(lambda _line: None))
        yield devnet
    finally:
        asyncio.run(devnet.destroy())


@pytest.fixture(scope="session")
def postgres_server(postgres_devnet: PostgresDevnet) -> DevnetInfo:
    from devnets.base import load_info

    info = load_info(postgres_devnet.state_dir)
    assert info is not None
    return info


@pytest.fixture
def postgres_url(postgres_server: DevnetInfo) -> Iterator[str]:
    """A fresh, empty database for one test."""
    port = int(postgres_server.extra["port"])
    name = f"t_{secrets.token_hex(6)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(url_of(port, "postgres"))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield url_of(port, name)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
