"""Group commit of the deliverer's state changes: every change that comes while one
transaction is being written joins the next, so a destination block that confirms
30 deliveries costs one store transaction (one disk sync, one thread hop), not 30.
Each change still commits together with its own audit event (they share the
transaction), and each caller returns only once its change is durable."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from hub.errors import StoreUnavailable
from hub.store.base import DeliveryUpdate, Store

log = logging.getLogger("tonglian.relay")

_Waiting = tuple[DeliveryUpdate, "asyncio.Future[None]"]


class GroupCommit:
    """Writes queued delivery updates, as many per transaction as are waiting."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._queue: list[_Waiting] = []
        self._ready = asyncio.Event()

    async def save(self, update: DeliveryUpdate) -> None:
        """Returns when `update` is stored; raises what storing it raised. Needs `run`."""
        done = asyncio.get_running_loop().create_future()
        self._queue.append((update, done))
        self._ready.set()
        await done

    async def run(self) -> None:
        """Writes until cancelled; updates still queued then are cancelled, not dropped
        silently (their callers see the cancellation)."""
        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                batch, self._queue = self._queue, []
                if batch:
                    await self._write(batch)
        finally:
            for _, done in self._queue:
                done.cancel()
            self._queue = []

    async def _write(self, batch: list[_Waiting]) -> None:
        try:
            await self._store.update_deliveries([u for u, _ in batch])
        except asyncio.CancelledError:
            for _, done in batch:
                done.cancel()
            raise
        except StoreUnavailable as exc:
            # The store is down, not one change refused: every caller is told at once
            # (one by one, each would wait out its own connection attempt; a PostgreSQL
            # restart held the relay for minutes).
            for _, done in batch:
                _settle(done, exc)
            return
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            # One change that cannot be stored (a claim lost to another replica) must not
            # fail the others: each is written on its own.
            log.info("storing %d delivery updates failed (%s); one by one", len(batch), exc)
            for update, done in batch:
                try:
                    await self._store.update_deliveries([update])
                except asyncio.CancelledError:
                    for _, left in batch:
                        left.cancel()
                    raise
                except BaseException as one:
                    _settle(done, one)
                else:
                    _settle(done, None)
            return
        except BaseException as exc:  # the transaction kept nothing: every caller is told
            for _, done in batch:
                _settle(done, exc)
            return
        for _, done in batch:
            _settle(done, None)


def _settle(done: asyncio.Future[None], exc: BaseException | None) -> None:
    with contextlib.suppress(asyncio.InvalidStateError):
        if exc is None:
            done.set_result(None)
        else:
            done.set_exception(exc)
