"""Reads records through adapters and verifies each before anyone sees it.

This is the query path of DESIGN.md: pick the chain's adapter, read, verify
against the chain's trust anchors, wrap in a bundle. Policy and audit hook in
at the service layer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from hub import paging
from hub.errors import FailedPrecondition, InvalidInput
from hub.guarded_adapter import GuardedAdapter
from hub.registry import ChainRegistry
from hub.router import Router
from hub.verification import Verifier
from hub.verified_once import VerifiedOnce
from tonglian.v1 import adapter_pb2, chains_pb2, query_pb2, records_pb2, relay_pb2
from tonglian_proof.bundle import make_bundle, sign_bundle
from tonglian_proof.statement import StatementSigner

MAX_KEY_BYTES = 1024
MAX_NAMESPACE_BYTES = 256
DEFAULT_PAGE = 50
MAX_PAGE = 500
# A page stops after this many blocks even when it is not full, so a sparse
# chain cannot hold a call for long; the token goes on from there.
MAX_BLOCKS_PER_PAGE = 2000


@dataclass(frozen=True)
class PagePosition:
    height: int
    # Records of block `height` already returned (before filtering).
    skip: int


class RecordReader:
    def __init__(
        self,
        registry: ChainRegistry,
        router: Router,
        verifier: Verifier,
        signer: StatementSigner,
    ) -> None:
        self._registry = registry
        self._router = router
        self._verifier = verifier
        # Every bundle served is signed, so "the hub said so at T" is always checkable.
        self._signer = signer
        # Watches of one namespace get the same record at once: verified once for all.
        self._watched = VerifiedOnce()

    async def _chain_and_adapter(self, chain_id: str) -> tuple[chains_pb2.Chain, GuardedAdapter]:
        chain = await self._registry.get(chain_id)
        return chain, await self._router.adapter_for(chain)

    async def get(self, ref: records_pb2.RecordRef, at_height: int) -> records_pb2.VerifiedRecord:
        """The record at `at_height`, or its newest version as of the newest final block.

        Where the hub has its own view of finality (EVM endpoint quorum), the hub picks
        that block and the adapter must prove the record there: an adapter whose node
        reports a short chain cannot serve a version the chain has superseded.
        """
        check_ref(ref)
        chain, adapter = await self._chain_and_adapter(ref.chain_id)
        guess = at_height or self._verifier.final_hint(chain)
        if guess:
            # The adapter reads at the requested or last known final height while the
            # endpoints are asked for the final height: one round trip instead of two.
            # Its answer counts only at a height the endpoints' answer allows.
            final, early = await asyncio.gather(
                self._verifier.final_height(chain),
                adapter.read(ref.namespace, ref.key, guess),
                return_exceptions=True,
            )
        else:
            final, early = await self._verifier.final_height(chain), None
        if isinstance(final, BaseException):
            raise final
        if final and at_height > final:
            raise InvalidInput(
                f"block {at_height} of chain {ref.chain_id!r} is not final yet: the newest "
                f"final block its trust anchor's endpoints agree on is {final}"
            )
        height = at_height or final
        if early is None or guess != height:
            # No guess, or the chain moved on since the last read: read where it stands.
            answer = await adapter.read(ref.namespace, ref.key, height)
        elif isinstance(early, BaseException):
            raise early
        else:
            answer = early
        return await self._verified(chain, answer, height)

    async def _verified(
        self, chain: chains_pb2.Chain, answer: adapter_pb2.ReadRecordResponse, at_height: int = 0
    ) -> records_pb2.VerifiedRecord:
        verification = await self._verifier.verify(chain, answer.record, answer.proof, at_height)
        bundle = make_bundle(chain, answer.record, answer.proof)
        sign_bundle(bundle, self._signer)
        return records_pb2.VerifiedRecord(
            record=answer.record, bundle=bundle, verification=verification
        )

    async def list(
        self,
        flt: query_pb2.RecordFilter,
        page_size: int,
        page_token: str,
        visible: Callable[[records_pb2.Record], bool] | None = None,
    ) -> query_pb2.ListRecordsResponse:
        """A page of verified records; those `visible` rejects are skipped as if absent, so
        they shape neither the page nor its token."""
        check_filter(flt)
        size = paging.page_size(page_size, DEFAULT_PAGE, MAX_PAGE)
        chain, adapter = await self._chain_and_adapter(flt.chain_id)
        head = await adapter.head()
        to_height = min(flt.to_height or head.final_height, head.final_height)
        pos = decode_page_token(page_token, flt) if page_token else PagePosition(flt.from_height, 0)
        if pos.height > to_height:
            return query_pb2.ListRecordsResponse(scanned_to_height=to_height)
        picked: list[adapter_pb2.ReadRecordResponse] = []
        next_pos: PagePosition | None = None
        last_done = pos.height - 1
        index_in_block = 0
        blocks = 0
        async for event in adapter.scan(flt.namespace, pos.height, to_height):
            if event.HasField("block"):
                last_done = event.block.height
                index_in_block = 0
                blocks += 1
                if blocks >= MAX_BLOCKS_PER_PAGE and last_done < to_height:
                    next_pos = PagePosition(last_done + 1, 0)
                    break
                continue
            rec = event.record.record
            position = index_in_block
            index_in_block += 1
            if rec.block_height == pos.height and position < pos.skip:
                continue
            if not matches(rec, flt) or (visible is not None and not visible(rec)):
                continue
            if len(picked) == size:
                next_pos = PagePosition(rec.block_height, position)
                break
            picked.append(event.record)
        verified = await asyncio.gather(*(self._verified(chain, a) for a in picked))
        return query_pb2.ListRecordsResponse(
            records=verified,
            next_page_token=encode_page_token(next_pos, flt) if next_pos else "",
            scanned_to_height=max(last_done, 0),
        )

    async def watch(
        self,
        flt: query_pb2.RecordFilter,
        visible: Callable[[records_pb2.Record], bool] | None = None,
    ) -> AsyncIterator[records_pb2.VerifiedRecord]:
        """Verified records as their blocks become final; from the next final block
        when `from_height` is 0. Records `visible` rejects are skipped unverified."""
        check_filter(flt)
        chain, adapter = await self._chain_and_adapter(flt.chain_id)
        start = flt.from_height
        if start == 0:
            start = (await adapter.head()).final_height + 1
        async for event in adapter.scan(flt.namespace, start, flt.to_height, follow=True):
            rec = event.record.record
            if event.HasField("record") and matches(rec, flt) and (visible is None or visible(rec)):
                await self._still_current(chain)
                yield await self._watched.get(chain, event.record, self._verified)

    async def _still_current(self, chain: chains_pb2.Chain) -> None:
        """Ends a watch whose chain's trust changed since it began (here or on another
        replica): nothing is verified under anchors no longer registered."""
        if self._registry.is_current(chain):
            return
        if await self._registry.get(chain.chain_id) == chain:  # NOT_FOUND when removed
            return
        raise FailedPrecondition(
            f"chain {chain.chain_id!r} was removed and registered anew after this watch "
            "began; watch again to follow it as it is registered now"
        )


def selects(record: records_pb2.Record, namespace: str, key_prefix: str, schema: str) -> bool:
    """Whether a record falls under a selection (an empty namespace or schema is any)."""
    return (
        (not namespace or record.ref.namespace == namespace)
        and record.ref.key.startswith(key_prefix)
        and (not schema or record.schema == schema)
    )


def matches(record: records_pb2.Record, flt: query_pb2.RecordFilter) -> bool:
    return selects(record, flt.namespace, flt.key_prefix, flt.schema)


def matches_route(record: records_pb2.Record, route: relay_pb2.Route) -> bool:
    return selects(record, route.source_namespace, route.key_prefix, route.schema)


def check_ref(ref: records_pb2.RecordRef) -> None:
    """Bounds a record reference before it reaches an adapter."""
    for name, value, limit in (
        ("ref.chain_id", ref.chain_id, 63),
        ("ref.namespace", ref.namespace, MAX_NAMESPACE_BYTES),
        ("ref.key", ref.key, MAX_KEY_BYTES),
    ):
        if not value:
            raise InvalidInput(f"{name} is required (a record is named chain_id/namespace/key)")
        if len(value.encode()) > limit:
            raise InvalidInput(f"{name} is longer than {limit} bytes")
        if any(ord(c) < 0x20 for c in value):
            raise InvalidInput(f"{name} contains control characters")


def check_filter(flt: query_pb2.RecordFilter) -> None:
    if not flt.chain_id:
        raise InvalidInput("filter.chain_id is required")
    if len(flt.namespace.encode()) > MAX_NAMESPACE_BYTES:
        raise InvalidInput(f"filter.namespace is longer than {MAX_NAMESPACE_BYTES} bytes")
    if len(flt.key_prefix.encode()) > MAX_KEY_BYTES:
        raise InvalidInput(f"filter.key_prefix is longer than {MAX_KEY_BYTES} bytes")
    if flt.to_height and flt.to_height < flt.from_height:
        raise InvalidInput(
            f"filter.to_height {flt.to_height} is below filter.from_height {flt.from_height}"
        )


def _filter_fingerprint(flt: query_pb2.RecordFilter) -> str:
    """The whole filter, hashed: a token is valid only for the filter it was issued for."""
    return hashlib.sha256(flt.SerializeToString(deterministic=True)).hexdigest()[:32]


def encode_page_token(pos: PagePosition, flt: query_pb2.RecordFilter) -> str:
    raw = json.dumps({"h": pos.height, "s": pos.skip, "f": _filter_fingerprint(flt)})
    return paging.token_seal().seal(raw.encode())


def decode_page_token(token: str, flt: query_pb2.RecordFilter) -> PagePosition:
    """The position a token of this hub names; any other token (made up, edited, of
    another hub's key) is INVALID_ARGUMENT, refused before a field of it is read."""
    payload = paging.token_seal().open(token)
    try:
        data = json.loads(payload, parse_constant=_no_constant)
        height, skip, fingerprint = data["h"], data["s"], data["f"]
    except (ValueError, KeyError, TypeError):
        raise InvalidInput(paging.NOT_ISSUED) from None
    for value in (height, skip):
        if type(value) is not int or not 0 <= value <= paging.MAX_SEQUENCE:
            raise InvalidInput(paging.NOT_ISSUED)
    if fingerprint != _filter_fingerprint(flt):
        raise InvalidInput("page_token belongs to another filter; start again without it")
    return PagePosition(height, skip)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a position")
