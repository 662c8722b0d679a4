"""Each chain's own secret store: files readable by the hub's user only, one folder a chain.

`DATA_DIR/secrets/CHAIN/NAME` holds one secret (a key, a password, a token), written
0600 in a 0700 folder by the operator RPC `PutSecret` (`tonglian secrets put`). A chain
references its entries by name (SecretRef.store), so a registration can never point
the hub at a file of its choosing: names are checked against a pattern that has no
room for `/` or `..`, and the path is built here, never taken from a request.

Each replica keeps its own store in its own data dir: a secret never enters the shared
database (a dump or a database operator holds no keys), and an operator puts it into
every replica (docs/security.md § "Secrets and operator scope").
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from pathlib import Path

from adapters.base import Secret
from hub.errors import InvalidInput

# A secret's name: also what its SecretRef.store says, and its file's name.
SECRET_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Same pattern as hub/registry.py's CHAIN_ID: a chain's folder is named after its id.
CHAIN_FOLDER = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# An environment variable's name, as SecretRef.env and the hub's secret_env give it.
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
HEX = re.compile(r"^(0[xX])?[0-9a-fA-F]+$")
MAX_SECRET_BYTES = 64 * 1024
FOLDER = "secrets"


def check_name(name: str) -> None:
    if not SECRET_NAME.match(name):
        raise InvalidInput(
            f"secret name {name[:40]!r} is not valid: use 1 to 63 lower-case letters, digits "
            "and '_', starting with a letter"
        )


def _check_chain(chain_id: str) -> None:
    if not CHAIN_FOLDER.match(chain_id):
        raise InvalidInput(
            f"chain id {chain_id[:80]!r} is not valid: use 1 to 63 lower-case letters, "
            "digits and '-', starting with a letter or digit"
        )


class SecretStore:
    """The secrets of every chain on this replica, and the environment variables the
    hub's operator lets chains reference (`secret_env` in the hub's config)."""

    def __init__(self, data_dir: Path, allowed_env: tuple[str, ...] = ()) -> None:
        self._root = data_dir / FOLDER
        self.allowed_env = frozenset(allowed_env)

    def _folder(self, chain_id: str) -> Path:
        _check_chain(chain_id)
        return self._root / chain_id

    def _path(self, chain_id: str, name: str) -> Path:
        check_name(name)
        return self._folder(chain_id) / name

    async def put(self, chain_id: str, name: str, value: bytes) -> None:
        """Writes (or replaces) one secret atomically, 0600 in a 0700 folder."""
        path = self._path(chain_id, name)
        if not value.strip():
            raise InvalidInput(f"secret {name!r} is empty")
        if len(value) > MAX_SECRET_BYTES:
            raise InvalidInput(f"secret {name!r} is larger than {MAX_SECRET_BYTES} bytes")
        try:
            value.decode()
        except UnicodeDecodeError:
            raise InvalidInput(f"secret {name!r} is not UTF-8 text") from None
        await asyncio.to_thread(_write_0600, path, value)

    async def names(self, chain_id: str) -> list[str]:
        """The names of the chain's secrets, sorted (never their values)."""
        folder = self._folder(chain_id)
        found = await asyncio.to_thread(_list, folder)
        return sorted(n for n in found if SECRET_NAME.match(n))

    async def remove(self, chain_id: str, name: str) -> bool:
        path = self._path(chain_id, name)
        try:
            await asyncio.to_thread(path.unlink)
        except FileNotFoundError:
            return False
        return True

    async def has(self, chain_id: str, name: str) -> bool:
        return await asyncio.to_thread(self._path(chain_id, name).is_file)

    def read(self, chain_id: str, name: str) -> Secret | None:
        """The secret's value (None: not in the store). Synchronous: adapters are made
        synchronously, once per registered chain."""
        try:
            return Secret(self._path(chain_id, name).read_bytes().decode(errors="replace").strip())
        except (FileNotFoundError, NotADirectoryError):
            return None

    async def digests(self, chain_id: str) -> dict[str, bytes]:
        """SHA-256 of each of the chain's secrets, by name: to find a value that another
        chain already uses without keeping or comparing values themselves."""
        folder = self._folder(chain_id)
        return await asyncio.to_thread(_digests, folder)


def _write_0600(path: Path, value: bytes) -> None:
    path.parent.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, value)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _list(folder: Path) -> list[str]:
    try:
        return [p.name for p in folder.iterdir() if p.is_file()]
    except FileNotFoundError:
        return []


def digest_of(value: bytes) -> bytes:
    """SHA-256 of a secret in one spelling: surrounding blanks dropped, and a hex value
    (a key, with or without 0x) in lower case without its prefix."""
    text = value.decode(errors="replace").strip()
    if HEX.match(text):
        text = text.lower().removeprefix("0x")
    return hashlib.sha256(text.encode()).digest()


def _digests(folder: Path) -> dict[str, bytes]:
    return {
        name: digest_of((folder / name).read_bytes())
        for name in _list(folder)
        if SECRET_NAME.match(name)
    }
