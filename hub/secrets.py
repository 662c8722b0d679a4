"""Adapter secrets: checked as references at registration, resolved only when an adapter is made.

A chain's AdapterSettings carry secrets as SecretRefs (a file or an environment
variable of the hub), so no RPC, store row, audit event or export ever holds a
secret's value. Errors name the reference, never what it points to.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from adapters.base import Secret
from hub.errors import ChainMisconfigured, InvalidInput
from tonglian.v1 import chains_pb2

SECRET_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_SECRETS = 16
MAX_SECRET_BYTES = 64 * 1024


def check_refs(settings: chains_pb2.AdapterSettings) -> None:
    """Raises InvalidInput unless every secret is a well-formed reference."""
    if len(settings.secrets) > MAX_SECRETS:
        raise InvalidInput(f"chain.adapter.secrets holds more than {MAX_SECRETS} secrets")
    for name, ref in settings.secrets.items():
        where = f"chain.adapter.secrets[{name[:40]!r}]"
        if not SECRET_NAME.match(name):
            raise InvalidInput(f"{where}: a secret name is lower-case letters, digits and '_'")
        source = ref.WhichOneof("source")
        if source is None:
            raise InvalidInput(f"{where} needs `file` (a path on the hub) or `env` (a variable)")
        if source == "env" and not ENV_NAME.match(ref.env):
            raise InvalidInput(f"{where}.env {ref.env[:80]!r} is not an environment variable name")
        if source == "file" and (not ref.file or "\0" in ref.file or len(ref.file) > 4096):
            raise InvalidInput(f"{where}.file is not a usable path")


def describe(ref: chains_pb2.SecretRef) -> str:
    """How messages name a reference: where it points, never what it holds."""
    return f"environment variable {ref.env}" if ref.WhichOneof("source") == "env" else ref.file


def resolve(settings: chains_pb2.AdapterSettings, data_dir: Path) -> dict[str, Secret]:
    """Reads every secret; ChainMisconfigured names the reference that cannot be used."""
    return {name: _read(name, ref, data_dir) for name, ref in settings.secrets.items()}


def _read(name: str, ref: chains_pb2.SecretRef, data_dir: Path) -> Secret:
    if ref.WhichOneof("source") == "env":
        value = os.environ.get(ref.env)
        if not value:
            raise ChainMisconfigured(
                f"secret {name!r}: environment variable {ref.env} of the hub is not set"
            )
        return Secret(value)
    path = Path(ref.file) if os.path.isabs(ref.file) else data_dir / ref.file
    try:
        info = path.stat()
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise ChainMisconfigured(
                f"secret {name!r}: {path} is readable by others (mode "
                f"{stat.S_IMODE(info.st_mode):04o}); `chmod 600 {path}`"
            )
        if info.st_size > MAX_SECRET_BYTES:
            raise ChainMisconfigured(f"secret {name!r}: {path} is larger than a secret can be")
        return Secret(path.read_text().strip())
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not text"
        raise ChainMisconfigured(f"secret {name!r}: cannot read {path}: {reason}") from None
