"""An adapter as the hub uses it: every call bounded in time, every answer checked.

Adapters are untrusted transport. This wrapper turns their typed errors, their
time-outs and their crashes into hub errors that name the chain and the adapter,
and refuses answers that do not match the question (another key, no proof). It
never submits through an adapter that declares it cannot (`can_submit` false):
that path was not certified, so the hub does not use it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import TypeVar

from adapters import base
from hub.errors import (
    AdapterMisbehaved,
    ChainMisconfigured,
    ChainUnreachable,
    DeliveryRefused,
    FailedPrecondition,
    HubError,
    InvalidInput,
    NotFound,
)
from hub.observability.adapter_calls import adapter_call, count_error, head_failed, head_seen
from tonglian.v1 import adapter_pb2, chains_pb2, relay_pb2

T = TypeVar("T")


class GuardedAdapter:
    def __init__(self, chain: chains_pb2.Chain, adapter: base.Adapter, timeout: float) -> None:
        self.chain = chain
        self._adapter = adapter
        self._timeout = timeout
        self._who = f"adapter {chain.adapter.adapter!r} of chain {chain.chain_id!r}"
        self._can_submit: bool | None = None
        # A runtime Protocol check walks the protocol's members: asked once, not per call.
        self._follows = isinstance(adapter, base.FollowsFinalHeights)
        self._checks_many = isinstance(adapter, base.ChecksManySubmissions)

    async def _call(self, what: str, call: Awaitable[T]) -> T:
        with adapter_call(self.chain.chain_id, self.chain.adapter.adapter, what.split()[0]):
            try:
                # asyncio.timeout, not wait_for: no extra task per call (the relay makes
                # two adapter calls per record).
                async with asyncio.timeout(self._timeout):
                    return await call
            except TimeoutError:
                raise ChainUnreachable(
                    f"{self._who} did not answer {what} within {self._timeout:g}s",
                    chain_id=self.chain.chain_id,
                ) from None
            except BaseException as exc:
                raise self._translate(what, exc) from exc

    def _translate(self, what: str, exc: BaseException) -> BaseException:
        if isinstance(exc, HubError | asyncio.CancelledError):
            return exc
        if isinstance(exc, base.RecordNotFound):
            return NotFound(f"{exc} (chain {self.chain.chain_id!r})")
        if isinstance(exc, base.ChainUnavailable):
            return ChainUnreachable(
                f"chain {self.chain.chain_id!r} is unreachable: {exc}", chain_id=self.chain.chain_id
            )
        if isinstance(exc, base.InvalidAdapterRequest):
            return InvalidInput(f"{exc}")
        if isinstance(exc, base.SubmissionRejected):
            return DeliveryRefused(f"chain {self.chain.chain_id!r} refused the delivery: {exc}")
        if isinstance(exc, base.AdapterMisconfigured):
            return ChainMisconfigured(
                f"{self._who} is misconfigured: {exc}", chain_id=self.chain.chain_id
            )
        if isinstance(exc, base.AdapterError):
            return AdapterMisbehaved(
                f"{self._who} failed {what}: {exc}", chain_id=self.chain.chain_id
            )
        if isinstance(exc, Exception):
            return AdapterMisbehaved(
                f"{self._who} crashed during {what}: {type(exc).__name__}: {exc}"
            )
        return exc

    async def describe(self) -> adapter_pb2.DescribeResponse:
        return await self._call("describe", self._adapter.describe())

    async def head(self) -> chains_pb2.ChainHead:
        try:
            head = await self._checked_head()
        except HubError as exc:
            head_failed(self.chain.chain_id, str(exc))
            raise
        head_seen(self.chain.chain_id, head)
        return head

    async def _checked_head(self) -> chains_pb2.ChainHead:
        head = await self._call("head", self._adapter.head())
        if not isinstance(head, chains_pb2.ChainHead):
            raise AdapterMisbehaved(f"{self._who} answered head with {type(head).__name__}")
        if head.final_height > head.height:
            raise AdapterMisbehaved(
                f"{self._who} reported final height {head.final_height} above head {head.height}"
            )
        return head

    async def read(
        self, namespace: str, key: str, at_height: int = 0
    ) -> adapter_pb2.ReadRecordResponse:
        answer = await self._call(
            f"read of {namespace}/{key}", self._adapter.read(namespace, key, at_height)
        )
        self.check_record(answer, namespace, key)
        if at_height and answer.record.block_height > at_height:
            raise AdapterMisbehaved(
                f"{self._who} answered a read at height {at_height} with a record "
                f"from block {answer.record.block_height}"
            )
        return answer

    def check_record(
        self, answer: adapter_pb2.ReadRecordResponse, namespace: str | None, key: str | None
    ) -> None:
        """Refuses an answer about another chain, namespace or key, or one without proof."""
        try:
            self._check_record(answer, namespace, key)
        except AdapterMisbehaved as exc:
            count_error(self.chain.chain_id, exc)
            raise

    def _check_record(
        self, answer: adapter_pb2.ReadRecordResponse, namespace: str | None, key: str | None
    ) -> None:
        if not isinstance(answer, adapter_pb2.ReadRecordResponse):
            raise AdapterMisbehaved(f"{self._who} answered with {type(answer).__name__}")
        ref = answer.record.ref
        if ref.chain_id != self.chain.chain_id:
            raise AdapterMisbehaved(f"{self._who} returned a record of chain {ref.chain_id!r}")
        if namespace is not None and ref.namespace != namespace:
            raise AdapterMisbehaved(
                f"{self._who} returned namespace {ref.namespace!r} for {namespace!r}"
            )
        if key is not None and ref.key != key:
            raise AdapterMisbehaved(f"{self._who} returned key {ref.key!r} for {key!r}")
        if answer.proof.WhichOneof("kind") is None:
            raise AdapterMisbehaved(f"{self._who} returned {ref.key!r} without a proof")

    async def scan(
        self, namespace: str, from_height: int, to_height: int = 0, follow: bool = False
    ) -> AsyncIterator[adapter_pb2.ScanResponse]:
        """The adapter's scan; each next event is bounded in time unless following."""
        stream = self._adapter.scan(namespace, from_height, to_height, follow).__aiter__()
        while True:
            try:
                if follow:
                    event = await stream.__anext__()
                else:
                    event = await asyncio.wait_for(stream.__anext__(), self._timeout)
            except StopAsyncIteration:
                return
            except TimeoutError:
                timeout = ChainUnreachable(
                    f"{self._who} sent nothing for {self._timeout:g}s during a scan",
                    chain_id=self.chain.chain_id,
                )
                count_error(self.chain.chain_id, timeout, "timeout")
                raise timeout from None
            except BaseException as exc:
                translated = self._translate("scan", exc)
                count_error(self.chain.chain_id, translated)
                raise translated from exc
            if event.HasField("record"):
                self.check_record(event.record, namespace or None, None)
            yield event

    @property
    def follows_final_heights(self) -> bool:
        """Whether the adapter can tell when its chain reaches a new final block."""
        return self._follows

    async def final_heights(self, from_height: int) -> AsyncIterator[int]:
        """The adapter's new final heights (`base.FollowsFinalHeights`), as hub errors."""
        if not isinstance(self._adapter, base.FollowsFinalHeights):
            raise FailedPrecondition(f"{self._who} cannot follow final blocks")
        stream = self._adapter.final_heights(from_height).__aiter__()
        while True:
            try:
                height = await stream.__anext__()
            except StopAsyncIteration:
                return
            except BaseException as exc:
                raise self._translate("final_heights", exc) from exc
            if not isinstance(height, int) or height < from_height:
                raise AdapterMisbehaved(
                    f"{self._who} reported final height {height!r} below {from_height}"
                )
            from_height = height + 1
            yield height

    async def require_submit(self) -> None:
        """FailedPrecondition unless the adapter says it can submit (asked once)."""
        if self._can_submit is None:
            self._can_submit = (await self.describe()).can_submit
        if not self._can_submit:
            raise FailedPrecondition(
                f"chain {self.chain.chain_id!r} cannot receive deliveries: its "
                f"{self._who.partition(' of ')[0]} says can_submit = false; register the chain "
                "with the adapter's submit settings (evm: an inbox address and the secret "
                "private_key) before routing to it"
            )

    async def submit(self, delivery: relay_pb2.Delivery) -> adapter_pb2.Submission:
        await self.require_submit()
        return await self._call(
            f"submit of delivery {delivery.delivery_id}", self._adapter.submit(delivery)
        )

    async def submission(self, delivery_id: str) -> adapter_pb2.Submission:
        return await self._call(
            f"status of delivery {delivery_id}", self._adapter.submission(delivery_id)
        )

    @property
    def checks_many(self) -> bool:
        """Whether the adapter can ask about many deliveries in one request."""
        return self._checks_many

    async def submissions(self, delivery_ids: Sequence[str]) -> list[adapter_pb2.Submission]:
        """The adapter's `submissions` (`base.ChecksManySubmissions`); an answer that is
        not one Submission per id, in order, is the adapter misbehaving."""
        if not isinstance(self._adapter, base.ChecksManySubmissions):
            raise FailedPrecondition(f"{self._who} cannot ask about many deliveries at once")
        got = await self._call(
            f"status of {len(delivery_ids)} deliveries",
            self._adapter.submissions(delivery_ids),
        )
        if not isinstance(got, list) or len(got) != len(delivery_ids):
            size = len(got) if isinstance(got, list) else type(got).__name__
            raise AdapterMisbehaved(
                f"{self._who} answered {size} submissions for {len(delivery_ids)} deliveries",
                chain_id=self.chain.chain_id,
            )
        for asked, sub in zip(delivery_ids, got, strict=True):
            if not isinstance(sub, adapter_pb2.Submission):
                raise AdapterMisbehaved(
                    f"{self._who} answered with {type(sub).__name__} about {asked!r}",
                    chain_id=self.chain.chain_id,
                )
            if sub.delivery_id != asked:
                raise AdapterMisbehaved(
                    f"{self._who} answered about {sub.delivery_id!r} when asked about {asked!r}",
                    chain_id=self.chain.chain_id,
                )
        return got

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self._adapter.close(), self._timeout)
        except Exception:  # closing a broken adapter must not fail the caller
            pass
