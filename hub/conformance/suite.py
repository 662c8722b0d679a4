"""The standard suite: each clause of the Adapter contract, checked against a live adapter.

Every adapter call has a deadline; a late answer fails the clause that made it
and the `deadlines` clause. Proofs are checked with the hub's own Verifier (the
same code path as a query, EVM headers attested by the hub from the anchor's
endpoints), so "certified" means "the hub will accept what this adapter says,
and will catch it when what it says is altered".
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from adapters.base import (
    Adapter,
    AdapterError,
    InvalidAdapterRequest,
    RecordNotFound,
    SubmissionRejected,
)
from hub.conformance import tamper
from hub.conformance.scorecard import ClauseResult, Outcome, Scorecard
from hub.conformance.writer import Writer
from hub.errors import KNOWN_ERRORS, HubError, ProofError, ProofRejected
from hub.verification import Verifier
from tonglian.v1 import adapter_pb2, chains_pb2, relay_pb2
from tonglian_proof.verify import PROOF_KIND_OF_CHAIN

T = TypeVar("T")
S = adapter_pb2.SubmissionState
Read = adapter_pb2.ReadRecordResponse
KIND_OF_ANCHOR: dict[str, chains_pb2.ChainKind.ValueType] = {
    v: chains_pb2.ChainKind.ValueType(k) for k, v in PROOF_KIND_OF_CHAIN.items()
}
MAX_RANGE_BLOCKS = 20


@dataclass
class SuiteConfig:
    anchor: chains_pb2.TrustAnchor
    chain_id: str = "conformance-1"
    writer: Writer | None = None
    # Existing records (namespace, key) to read when there is no writer, or besides it.
    seeds: list[tuple[str, str]] = field(default_factory=list)
    # Deadline of one adapter call, in seconds.
    timeout: float = 10.0
    # Where submit delivers; default: a fresh namespace beside the written records.
    submit_namespace: str = ""
    # False (`--no-write`): nothing is written to the chain, neither records nor deliveries.
    may_write: bool = True
    # Told each clause's id and title as it starts (the CLI's progress line).
    on_clause: Callable[[str, str], None] | None = None


class Late(Exception):
    """An adapter call did not answer within the deadline."""


class ClauseFailed(Exception):
    """A clause's check failed; the message is the evidence."""


def _same(a: Read, b: Read) -> bool:
    return a.SerializeToString(deterministic=True) == b.SerializeToString(deterministic=True)


def _where(r: Read) -> str:
    rec = r.record
    return f"{rec.ref.namespace}/{rec.ref.key} v{rec.version} @{rec.block_height}"


class _Run:
    def __init__(self, adapter: Adapter, config: SuiteConfig, card: Scorecard) -> None:
        self.adapter = adapter
        self.config = config
        self.card = card
        self.tag = secrets.token_hex(4)
        self.heads: list[chains_pb2.ChainHead] = []
        self.late: list[str] = []
        self.slowest = ("", 0.0)
        self.describe: adapter_pb2.DescribeResponse | None = None
        self.written: dict[str, list[int]] = {}
        self.reads: list[Read] = []
        self.scanned: list[Read] = []
        self.follow_evidence: tuple[Outcome, list[str]] = (
            "n/a",
            ["no writer: nothing new to follow"],
        )

    # -- calls ---------------------------------------------------------------------------

    async def call(self, what: str, call: Awaitable[T]) -> T:
        start = time.monotonic()
        try:
            return await asyncio.wait_for(call, self.config.timeout)
        except TimeoutError:
            self.late.append(what)
            raise Late(f"{what} did not answer within {self.config.timeout:g}s") from None
        finally:
            spent = time.monotonic() - start
            if spent > self.slowest[1]:
                self.slowest = (what, spent)

    async def scan_all(self, namespace: str, lo: int, hi: int) -> list[adapter_pb2.ScanResponse]:
        async def collect() -> list[adapter_pb2.ScanResponse]:
            return [e async for e in self.adapter.scan(namespace, lo, hi)]

        return await self.call(f"scan {namespace or '*'} {lo}..{hi}", collect())

    async def head(self) -> chains_pb2.ChainHead:
        h = await self.call("head", self.adapter.head())
        self.heads.append(h)
        return h

    async def expect_error(
        self, what: str, call: Callable[[], Awaitable[object]], *wanted: type[AdapterError]
    ) -> str:
        try:
            await self.call(what, call())
        except Late:
            raise
        except wanted as exc:
            return f"{what}: {type(exc).__name__} ({str(exc)[:160]})"
        except Exception as exc:
            names = " or ".join(w.__name__ for w in wanted)
            raise ClauseFailed(
                f"{what}: raised {type(exc).__name__} ({exc}), wanted {names}"
            ) from None
        names = " or ".join(w.__name__ for w in wanted)
        raise ClauseFailed(f"{what}: answered normally, wanted {names}")

    # -- bookkeeping ---------------------------------------------------------------------

    async def clause(
        self,
        clause: str,
        title: str,
        check: Callable[[], Awaitable[tuple[Outcome, list[str]]]],
        mandatory: bool = True,
    ) -> ClauseResult:
        if self.config.on_clause is not None:
            self.config.on_clause(clause, title)
        try:
            outcome, evidence = await check()
        except (ClauseFailed, Late) as exc:
            outcome, evidence = "fail", [str(exc)]
        except (AdapterError, HubError, ProofError) as exc:
            outcome, evidence = "fail", [f"{type(exc).__name__}: {exc}"]
        except Exception as exc:  # a crashing adapter is a failing adapter
            outcome, evidence = "fail", [f"crashed: {type(exc).__name__}: {exc}"]
        result = ClauseResult(clause, title, mandatory, outcome, evidence)
        self.card.results.append(result)
        return result

    @property
    def anchor_kind(self) -> str:
        return self.config.anchor.WhichOneof("anchor") or ""

    def records(self) -> list[tuple[str, str]]:
        ns = self.config.writer.namespace if self.config.writer else ""
        return [(ns, k) for k in self.written] + list(self.config.seeds)

    # -- clauses -------------------------------------------------------------------------

    async def check_describe(self) -> tuple[Outcome, list[str]]:
        d = await self.call("describe", self.adapter.describe())
        self.describe = d
        self.card.adapter = d.adapter
        kind = chains_pb2.ChainKind.Name(d.kind)
        self.card.chain_kind = kind
        if not d.adapter:
            raise ClauseFailed("describe names no adapter (want e.g. 'custom/0.1.0')")
        want = KIND_OF_ANCHOR.get(self.anchor_kind)
        if want is None:
            raise ClauseFailed("the trust anchor has no kind; give --anchor or --from-devnet")
        if d.kind != want:
            raise ClauseFailed(
                f"describe says {kind}, the anchor is a {self.anchor_kind} anchor "
                f"({chains_pb2.ChainKind.Name(want)})"
            )
        a = self.config.anchor
        expected = {
            "signed_merkle": a.signed_merkle.ledger_id,
            "evm": str(a.evm.chain_id),
            "fabric": a.fabric.channel,
        }[self.anchor_kind]
        if d.network_id != expected:
            raise ClauseFailed(f"network_id {d.network_id!r} is not the anchor's {expected!r}")
        return "pass", [
            f"adapter {d.adapter}, kind {kind}, network {d.network_id!r} matches the anchor",
            f"namespaces {list(d.namespaces)[:5]}, can_submit={d.can_submit}",
        ]

    async def prepare(self) -> None:
        """Writes k-a twice and k-b once (when there is a writer), following as it goes."""
        writer = self.config.writer
        if writer is None:
            return
        start = await self.head()
        follow = asyncio.create_task(self._follow(writer.namespace, start.final_height + 1))
        try:
            for key, n in ((f"kit-{self.tag}-a", 2), (f"kit-{self.tag}-b", 1)):
                for version in range(1, n + 1):
                    height = await asyncio.wait_for(
                        writer.write(key, {"kit": self.tag, "key": key, "n": version}),
                        self.config.timeout * 3,
                    )
                    self.written.setdefault(key, []).append(height)
            self.follow_evidence = await asyncio.wait_for(follow, self.config.timeout * 3)
        except TimeoutError:
            self.follow_evidence = (
                "fail",
                [f"follow scan from {start.final_height + 1} saw no written record in time"],
            )
        finally:
            follow.cancel()
            with contextlib.suppress(BaseException):
                await follow
        # Wait until the adapter reports the last write final.
        top = max(max(h) for h in self.written.values())
        deadline = time.monotonic() + self.config.timeout * 3
        while (await self.head()).final_height < top and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)

    async def _follow(self, namespace: str, from_height: int) -> tuple[Outcome, list[str]]:
        stream: AsyncIterator[adapter_pb2.ScanResponse] = self.adapter.scan(
            namespace, from_height, 0, True
        )
        async for event in stream:
            if event.HasField("record") and event.record.record.ref.key.startswith(
                f"kit-{self.tag}-"
            ):
                return "pass", [
                    f"scan(follow) from {from_height} delivered {_where(event.record)} "
                    "after it was written"
                ]
        return "fail", ["scan(follow) ended before any written record arrived"]

    async def check_head(self) -> tuple[Outcome, list[str]]:
        h = await self.head()
        evidence = []
        for seen in self.heads:
            if seen.final_height > seen.height:
                raise ClauseFailed(f"final height {seen.final_height} above head {seen.height}")
        finals = [s.final_height for s in self.heads]
        if finals != sorted(finals):
            raise ClauseFailed(f"final height went backwards across the run: {finals}")
        evidence.append(f"{len(self.heads)} heads, final heights never decrease: {finals[:8]}")
        if self.written:
            top = max(max(v) for v in self.written.values())
            if h.final_height < top:
                raise ClauseFailed(
                    f"final height {h.final_height} did not reach block {top} of the last write"
                )
            evidence.append(
                f"head advanced to final {h.final_height} past the writes (block {top})"
            )
        else:
            evidence.append("no writer: only monotonicity checked")
        return "pass", evidence

    async def check_read(self) -> tuple[Outcome, list[str]]:
        keys = self.records()
        if not keys:
            return "skip", ["no records: give a writer (--from-devnet) or --seed NAMESPACE/KEY"]
        head = self.heads[-1] if self.heads else await self.head()
        evidence = []
        for ns, key in keys:
            r = await self.call(f"read {ns}/{key}", self.adapter.read(ns, key))
            ref = r.record.ref
            if (ref.namespace, ref.key) != (ns, key):
                raise ClauseFailed(f"read {ns}/{key} answered {ref.namespace}/{ref.key}")
            if r.proof.WhichOneof("kind") != self.anchor_kind:
                raise ClauseFailed(
                    f"read {ns}/{key}: proof is {r.proof.WhichOneof('kind')}, "
                    f"not {self.anchor_kind}"
                )
            if r.record.block_height > max(head.final_height, self.heads[-1].final_height):
                raise ClauseFailed(
                    f"read {ns}/{key}: block {r.record.block_height} is above the final "
                    f"height {head.final_height}"
                )
            want_versions = len(self.written.get(key, []))
            if want_versions and r.record.version != want_versions:
                raise ClauseFailed(
                    f"read {ns}/{key}: version {r.record.version}, {want_versions} were written"
                )
            self.reads.append(r)
            evidence.append(f"read {_where(r)}")
        a_key = f"kit-{self.tag}-a"
        heights = self.written.get(a_key, [])
        if len(heights) == 2 and heights[0] < heights[1]:
            ns = self.config.writer.namespace if self.config.writer else ""
            old = await self.call(
                f"read {a_key} at {heights[1] - 1}", self.adapter.read(ns, a_key, heights[1] - 1)
            )
            if old.record.version != 1 or old.record.block_height != heights[0]:
                raise ClauseFailed(
                    f"read at height {heights[1] - 1} answered {_where(old)}, want v1 @{heights[0]}"
                )
            self.reads.append(old)
            evidence.append(f"read at height {heights[1] - 1} answered the older {_where(old)}")
        return "pass", evidence

    async def check_scan_framing(self) -> tuple[Outcome, list[str]]:
        if not self.reads:
            return "skip", ["nothing was read, so there is no range to scan"]
        head = await self.head()
        lo = min(r.record.block_height for r in self.reads)
        hi = min(lo + MAX_RANGE_BLOCKS, head.final_height)
        events = await self.scan_all("", lo, hi)
        marks: list[adapter_pb2.BlockMark] = []
        open_records: list[Read] = []
        for e in events:
            if e.HasField("record"):
                open_records.append(e.record)
                continue
            if not e.HasField("block"):
                raise ClauseFailed("scan sent an empty event")
            mark = e.block
            expected = lo if not marks else marks[-1].height + 1
            if mark.height != expected:
                raise ClauseFailed(f"scan sent block mark {mark.height}, expected {expected}")
            if marks and mark.parent_hash != marks[-1].block_hash:
                raise ClauseFailed(
                    f"block {mark.height} parent_hash is not block {marks[-1].height}'s hash"
                )
            for r in open_records:
                if r.record.block_height != mark.height:
                    raise ClauseFailed(
                        f"record {_where(r)} arrived inside block {mark.height}'s records"
                    )
            marks.append(mark)
            open_records = []
        if open_records:
            raise ClauseFailed(f"scan ended with {len(open_records)} record(s) after the last mark")
        if not marks or marks[-1].height != hi:
            last = marks[-1].height if marks else None
            raise ClauseFailed(f"scan {lo}..{hi} ended at block {last}, not {hi}")
        evidence = [f"scan {lo}..{hi}: {len(marks)} marks in order, parents linked, records framed"]
        if hi == head.final_height == head.height and head.block_hash:
            if marks[-1].block_hash != head.block_hash:
                raise ClauseFailed(
                    f"head says block {head.height} is {head.block_hash.hex()[:16]}…, "
                    f"scan says {marks[-1].block_hash.hex()[:16]}…"
                )
            evidence.append(f"head hash of block {hi} equals the scanned block's hash")
        return "pass", evidence

    async def check_read_scan_agree(self) -> tuple[Outcome, list[str]]:
        if not self.reads:
            return "skip", ["nothing was read"]
        evidence = []
        for r in self.reads:
            ns, key, h = r.record.ref.namespace, r.record.ref.key, r.record.block_height
            events = await self.scan_all(ns, h, h)
            found = [
                e.record
                for e in events
                if e.HasField("record")
                and e.record.record.ref.key == key
                and e.record.record.version == r.record.version
            ]
            if len(found) != 1:
                raise ClauseFailed(f"scan of block {h} holds {len(found)} copies of {_where(r)}")
            at = await self.call(f"read {ns}/{key} at {h}", self.adapter.read(ns, key, h))
            if not _same(found[0], at):
                raise ClauseFailed(f"scan and read at height {h} differ for {_where(r)}")
            self.scanned.append(found[0])
            evidence.append(f"{_where(r)}: scan and read give identical record and proof bytes")
        return "pass", evidence

    async def check_proofs(self, verifier: Verifier) -> tuple[Outcome, list[str]]:
        answers = {a.SerializeToString(deterministic=True): a for a in self.reads + self.scanned}
        if not answers:
            return "skip", ["no proofs were returned"]
        chain = self._chain()
        evidence = []
        for a in answers.values():
            try:
                checks = await verifier.verify(chain, a.record, a.proof)
            except ProofRejected as exc:
                raise ClauseFailed(f"{_where(a)}: proof rejected: {exc.reason}") from None
            evidence.append(f"{_where(a)}: verified ({len(checks.checks)} checks)")
        return "pass", evidence

    async def check_tamper(self, verifier: Verifier) -> tuple[Outcome, list[str]]:
        if not self.reads:
            return "skip", ["no proof to tamper with"]
        # The proof with the longest Merkle path (or any) exercises the most fields.
        original = max(self.reads, key=lambda r: len(r.proof.signed_merkle.path))
        chain = self._chain()
        accepted = []
        variants = tamper.variants(original.record, original.proof)
        for t in variants:
            try:
                await verifier.verify(chain, t.record, t.proof)
            except KNOWN_ERRORS:  # refused, or the header oracle refused: not accepted
                continue
            accepted.append(t.what)
        if accepted:
            raise ClauseFailed(f"tampered proofs verified: {', '.join(accepted)}")
        return "pass", [f"all {len(variants)} tampered copies of {_where(original)} were rejected"]

    async def check_errors(self) -> tuple[Outcome, list[str]]:
        ns = self.config.writer.namespace if self.config.writer else ""
        ns = ns or (self.config.seeds[0][0] if self.config.seeds else "")
        if not ns and self.describe is not None and self.describe.namespaces:
            ns = self.describe.namespaces[0]
        if not ns:
            return "skip", ["no namespace known to ask about"]
        absent = f"kit-{self.tag}-absent"
        a = self.adapter
        evidence = [
            await self.expect_error(
                f"read {ns}/{absent}", lambda: a.read(ns, absent), RecordNotFound
            ),
            await self.expect_error(
                f"read {ns}/'' (empty key)", lambda: a.read(ns, ""), InvalidAdapterRequest
            ),
            await self.expect_error(
                "read ''/key (empty namespace)", lambda: a.read("", absent), InvalidAdapterRequest
            ),
            await self.expect_error(
                "scan 10..5 (backwards range)",
                lambda: self.scan_all(ns, 10, 5),
                InvalidAdapterRequest,
            ),
        ]
        return "pass", evidence

    async def check_submit(self) -> tuple[Outcome, list[str]]:
        if self.describe is not None and not self.describe.can_submit:
            return "n/a", ["describe says can_submit=false (the hub will never submit through it)"]
        if not self.config.may_write:
            return "skip", ["--no-write: no delivery submitted (submit writes to the chain)"]
        if not self.reads:
            return "skip", ["no record to deliver"]
        source = self.reads[0]
        dest = self.config.submit_namespace or f"kit-inbox-{self.tag}"
        digest = hashlib.sha256(source.proof.SerializeToString(deterministic=True)).digest()
        delivery = relay_pb2.Delivery(
            delivery_id=hashlib.sha256(f"kit/{self.tag}/{_where(source)}".encode()).hexdigest(),
            record=source.record,
            proof_digest=digest,
            destination_chain_id=self.config.chain_id,
            destination_namespace=dest,
        )
        a = self.adapter
        first = await self.call("submit", a.submit(delivery))
        if first.state not in (S.SUBMISSION_STATE_PENDING, S.SUBMISSION_STATE_CONFIRMED):
            raise ClauseFailed(f"first submit answered {S.Name(first.state)}: {first.detail}")
        second = await self.call("submit again", a.submit(delivery))
        if second.state != S.SUBMISSION_STATE_DUPLICATE:
            raise ClauseFailed(f"second submit answered {S.Name(second.state)}, want DUPLICATE")
        if first.tx_id and second.tx_id and first.tx_id != second.tx_id:
            raise ClauseFailed(f"second submit names tx {second.tx_id}, the first {first.tx_id}")
        evidence = [
            f"first submit {S.Name(first.state)} tx {first.tx_id[:18]}; second DUPLICATE, same tx"
        ]
        state = first.state
        deadline = time.monotonic() + self.config.timeout * 3
        while state != S.SUBMISSION_STATE_CONFIRMED and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            state = (await self.call("submission", a.submission(delivery.delivery_id))).state
        if state != S.SUBMISSION_STATE_CONFIRMED:
            raise ClauseFailed(f"delivery never CONFIRMED (last {S.Name(state)})")
        evidence.append("submission() reports CONFIRMED")
        unknown = await self.call("submission(unknown)", a.submission("0" * 64))
        if unknown.state != S.SUBMISSION_STATE_UNKNOWN:
            raise ClauseFailed(
                f"submission of an unseen id is {S.Name(unknown.state)}, not UNKNOWN"
            )
        evidence.append("submission of an unseen id is UNKNOWN")
        try:
            landed = await self.call("read delivered", a.read(dest, source.record.ref.key))
        except (RecordNotFound, InvalidAdapterRequest):
            evidence.append(f"the destination {dest!r} is not readable here; effect not counted")
        else:
            if landed.record.version != 1:
                raise ClauseFailed(
                    f"delivered record has version {landed.record.version}: applied twice"
                )
            evidence.append(f"delivered record {_where(landed)}: applied once")
        evidence.append(
            await self.expect_error(
                "submit of an empty delivery",
                lambda: a.submit(relay_pb2.Delivery()),
                InvalidAdapterRequest,
                SubmissionRejected,
            )
        )
        return "pass", evidence

    async def check_deadlines(self) -> tuple[Outcome, list[str]]:
        ns = self.config.writer.namespace if self.config.writer else ""
        head = await self.head()

        async def follow() -> None:
            async for _ in self.adapter.scan(ns, head.final_height + 1000, 0, True):
                pass

        task = asyncio.create_task(follow())
        await asyncio.sleep(0.3)
        if task.done() and task.exception() is not None:
            exc = task.exception()
            evidence_follow = f"scan(follow) past the head raised {type(exc).__name__}: {exc}"
        else:
            task.cancel()
            start = time.monotonic()
            done, _ = await asyncio.wait({task}, timeout=self.config.timeout)
            if not done:
                raise ClauseFailed("a cancelled scan(follow) did not stop within the deadline")
            evidence_follow = f"a cancelled scan(follow) stopped in {time.monotonic() - start:.2f}s"
        if self.late:
            raise ClauseFailed(f"late answers: {', '.join(self.late[:10])}")
        what, spent = self.slowest
        return "pass", [
            f"every call answered within {self.config.timeout:g}s (slowest: {what}, {spent:.2f}s)",
            evidence_follow,
        ]

    def _chain(self) -> chains_pb2.Chain:
        return chains_pb2.Chain(
            chain_id=self.config.chain_id,
            kind=KIND_OF_ANCHOR.get(self.anchor_kind, chains_pb2.CHAIN_KIND_UNSPECIFIED),
            trust_anchor=self.config.anchor,
        )


async def run_suite(adapter: Adapter, target: str, config: SuiteConfig) -> Scorecard:
    """Runs every clause against `adapter`; the scorecard says which passed and why."""
    card = Scorecard(target=target)
    run = _Run(adapter, config, card)
    verifier = Verifier(workers=0, oracle_timeout=config.timeout)
    try:
        described = await run.clause(
            "describe", "describe answers with the anchor's kind and network", run.check_describe
        )
        prepared: list[str] = []
        if described.outcome == "pass" and config.writer is not None:
            try:
                await run.prepare()
                prepared.append(f"wrote {sum(len(v) for v in run.written.values())} versions")
            except Exception as exc:
                prepared.append(f"writing records failed: {type(exc).__name__}: {exc}")
        await run.clause("head", "head answers, final <= head, moves only forward", run.check_head)
        card.results[-1].evidence[:0] = prepared
        await run.clause("read", "read answers the asked key, final, with a proof", run.check_read)
        await run.clause(
            "scan-framing",
            "scan sends each final block's records, then its mark",
            run.check_scan_framing,
        )
        await run.clause(
            "read-scan-agree",
            "read and scan give the same record and proof bytes",
            run.check_read_scan_agree,
        )
        await run.clause(
            "proofs-verify",
            "every proof verifies with the hub's verifier",
            lambda: run.check_proofs(verifier),
        )
        await run.clause(
            "tamper-rejected",
            "every tampered record or proof fails",
            lambda: run.check_tamper(verifier),
        )

        async def follow() -> tuple[Outcome, list[str]]:
            return run.follow_evidence

        await run.clause(
            "follow", "scan(follow) delivers new final blocks", follow, config.writer is not None
        )
        await run.clause(
            "errors", "unknown keys and bad input get the right typed errors", run.check_errors
        )
        await run.clause("submit-idempotent", "submit applies a delivery id once", run.check_submit)
        await run.clause(
            "deadlines", "every call answers in time; cancelled scans stop", run.check_deadlines
        )
    finally:
        verifier.close()
        if config.writer is not None:
            await config.writer.close()
    return card
