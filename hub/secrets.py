"""Adapter secrets by reference: confined to the chain's own store at registration,
resolved only when an adapter is made.

A chain's AdapterSettings carry secrets as SecretRefs, so no RPC, store row, audit
event or export ever holds a secret's value. A chain may reference an entry of its own
secret store (hub/secret_store.py) or an environment variable the hub's operator listed
in `secret_env`; every other reference (a path, `..`, another chain's entry, a variable
not listed) gets one and the same refusal, which says nothing about what it points to:
the hub never opens a file a registration names, so it cannot tell files apart for
anyone.
"""

from __future__ import annotations

import os
from pathlib import Path

from adapters.base import Secret
from hub.errors import ChainMisconfigured, InvalidInput
from hub.secret_store import ENV_NAME, SECRET_NAME, SecretStore
from tonglian.v1 import chains_pb2
from tonglian_client.secret_files import read_secret_file

MAX_SECRETS = 16


def refused(name: str) -> InvalidInput:
    """The one refusal of a reference outside the chain's own secrets."""
    return InvalidInput(
        f"chain.adapter.secrets[{name[:40]!r}] is refused: a chain's secret is an entry of its "
        "own secret store (`tonglian secrets put CHAIN NAME`, referenced as store: NAME) or an "
        "environment variable listed in the hub's secret_env"
    )


def check_refs(settings: chains_pb2.AdapterSettings) -> None:
    """Raises InvalidInput unless every secret is a well-formed store or env reference."""
    if len(settings.secrets) > MAX_SECRETS:
        raise InvalidInput(f"chain.adapter.secrets holds more than {MAX_SECRETS} secrets")
    for name, ref in settings.secrets.items():
        where = f"chain.adapter.secrets[{name[:40]!r}]"
        if not SECRET_NAME.match(name):
            raise InvalidInput(f"{where}: a secret name is lower-case letters, digits and '_'")
        source = ref.WhichOneof("source")
        if source is None:
            raise InvalidInput(f"{where} needs `store` (an entry of the chain's store) or `env`")
        if source == "file":
            raise refused(name)
        if source == "env" and not ENV_NAME.match(ref.env):
            raise refused(name)
        if source == "store" and not SECRET_NAME.match(ref.store):
            raise refused(name)


async def check_confined(
    chain_id: str, settings: chains_pb2.AdapterSettings, store: SecretStore
) -> None:
    """InvalidInput unless every secret is the chain's own store entry (present on this
    replica) or an allowed environment variable."""
    check_refs(settings)
    for name, ref in settings.secrets.items():
        if ref.WhichOneof("source") == "env":
            if ref.env not in store.allowed_env:
                raise refused(name)
        elif not await store.has(chain_id, ref.store):
            raise InvalidInput(
                f"chain.adapter.secrets[{name!r}]: the secret store of chain {chain_id!r} has "
                f"no entry {ref.store!r} on this hub; put it first: `tonglian secrets put "
                f"{chain_id} {ref.store} --file FILE`"
            )


def resolve(chain: chains_pb2.Chain, store: SecretStore) -> dict[str, Secret]:
    """Reads every secret of a registered chain; ChainMisconfigured names the reference
    that cannot be used (a chain registered before secrets were confined is refused)."""
    return {name: _resolve(chain.chain_id, name, ref, store) for name, ref in _refs(chain)}


def _refs(chain: chains_pb2.Chain) -> list[tuple[str, chains_pb2.SecretRef]]:
    return sorted(chain.adapter.secrets.items())


def _resolve(chain_id: str, name: str, ref: chains_pb2.SecretRef, store: SecretStore) -> Secret:
    source = ref.WhichOneof("source")
    if source == "env" and ref.env in store.allowed_env:
        value = os.environ.get(ref.env)
        if not value:
            raise ChainMisconfigured(
                f"secret {name!r}: environment variable {ref.env} of the hub is not set"
            )
        return Secret(value)
    if source == "store" and SECRET_NAME.match(ref.store):
        secret = store.read(chain_id, ref.store)
        if secret is None:
            raise ChainMisconfigured(
                f"secret {name!r}: the secret store of chain {chain_id!r} on this replica has "
                f"no entry {ref.store!r}; `tonglian secrets put {chain_id} {ref.store} --file "
                "FILE` against this replica"
            )
        return secret
    raise ChainMisconfigured(
        f"secret {name!r} of chain {chain_id!r} is not an entry of its own secret store or an "
        f"allowed environment variable; put it (`tonglian secrets put {chain_id} {name} --file "
        "FILE`) and register the chain again"
    )


def read_local(settings: chains_pb2.AdapterSettings) -> dict[str, Secret]:
    """Secrets as a tool outside the hub reads them (adapter serve/check, benchmarks):
    file references on the machine the tool runs on, as its user, and its environment."""
    return {name: _read_local(name, ref) for name, ref in settings.secrets.items()}


def _read_local(name: str, ref: chains_pb2.SecretRef) -> Secret:
    source = ref.WhichOneof("source")
    if source == "env":
        value = os.environ.get(ref.env)
        if not value:
            raise ChainMisconfigured(f"secret {name!r}: environment variable {ref.env} is not set")
        return Secret(value)
    if source == "file":
        return Secret(read_secret_file(Path(ref.file)).decode().strip())
    raise ChainMisconfigured(f"secret {name!r} is in a hub's secret store: give it as a file")
