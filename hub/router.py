"""Picks the adapter that talks to a chain; one live adapter per registered chain."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters import remote
from adapters.base import Adapter, AdapterFactory
from hub import adapter_plugins, secrets
from hub.adapter_context import adapter_context
from hub.errors import ChainMisconfigured, HubError
from hub.guarded_adapter import GuardedAdapter
from hub.secret_store import SecretStore
from tonglian.v1 import chains_pb2

REMOTE = "remote"


class Router:
    def __init__(
        self, default_timeout: float, data_dir: Path, secret_env: tuple[str, ...] = ()
    ) -> None:
        """Chains' secrets are in their stores under `data_dir` (hub/secret_store.py) or in
        the environment variables named in `secret_env`."""
        self._default_timeout = default_timeout
        self.secrets = SecretStore(data_dir, secret_env)
        self._adapters: dict[str, tuple[bytes, GuardedAdapter]] = {}
        self._lock = asyncio.Lock()

    def timeout_of(self, chain: chains_pb2.Chain) -> float:
        ms = chain.adapter.timeout_ms
        return ms / 1000 if ms else self._default_timeout

    async def adapter_for(self, chain: chains_pb2.Chain) -> GuardedAdapter:
        """The chain's adapter, created on first use and re-created when the chain changed."""
        fingerprint = chain.SerializeToString(deterministic=True)
        async with self._lock:
            cached = self._adapters.get(chain.chain_id)
            if cached and cached[0] == fingerprint:
                return cached[1]
            if cached:
                await cached[1].close()
            guarded = GuardedAdapter(chain, self._create(chain), self.timeout_of(chain))
            self._adapters[chain.chain_id] = (fingerprint, guarded)
            return guarded

    def _create(self, chain: chains_pb2.Chain) -> Adapter:
        factory: AdapterFactory
        extra: dict[str, str] = {}
        if chain.adapter.adapter == REMOTE:
            # An out-of-process adapter: the same protocol over tonglian.v1.Adapter.
            factory = remote.create_adapter
            extra["address"] = chain.adapter.address
        else:
            factory = adapter_plugins.factory(chain.adapter.adapter)
        context = adapter_context(
            chain,
            timeout=self.timeout_of(chain),
            secrets=secrets.resolve(chain, self.secrets),
            extra_options=extra,
        )
        try:
            return factory(context)
        except HubError:
            raise
        except Exception as exc:
            raise ChainMisconfigured(
                f"adapter {chain.adapter.adapter!r} refused the settings of chain "
                f"{chain.chain_id!r}: {exc}"
            ) from exc

    async def drop(self, chain_id: str, only: chains_pb2.Chain | None = None) -> None:
        """Closes the chain's adapter; with `only`, just the adapter made for that very
        chain (its trust changed), not one already made for the chain as it is now."""
        async with self._lock:
            cached = self._adapters.get(chain_id)
            if cached is None or (
                only is not None and cached[0] != only.SerializeToString(deterministic=True)
            ):
                return
            del self._adapters[chain_id]
        await cached[1].close()

    async def close(self) -> None:
        async with self._lock:
            adapters, self._adapters = list(self._adapters.values()), {}
        for _, adapter in adapters:
            await adapter.close()
