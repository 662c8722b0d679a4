"""Fans delivery updates out to WatchDeliveries streams without letting a slow
watcher hold memory: its queue is bounded and it is dropped when full."""

from __future__ import annotations

import asyncio
import contextlib

from tonglian.v1 import relay_pb2

WATCH_QUEUE = 1000


class WatcherTooSlow(Exception):
    pass


class DeliveryNotifier:
    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[relay_pb2.Delivery | None]] = set()

    def publish(self, delivery: relay_pb2.Delivery) -> None:
        for q in list(self._queues):
            try:
                q.put_nowait(delivery)
            except asyncio.QueueFull:
                self._queues.discard(q)
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()
                q.put_nowait(None)  # tells the watcher it was dropped

    def subscribe(self) -> asyncio.Queue[relay_pb2.Delivery | None]:
        q: asyncio.Queue[relay_pb2.Delivery | None] = asyncio.Queue(WATCH_QUEUE)
        self._queues.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[relay_pb2.Delivery | None]) -> None:
        self._queues.discard(q)
