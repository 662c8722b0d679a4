"""The Annals book: sealed blocks (kept in memory, appended to blocks.jsonl) and a queue.

A transaction is queued, then sealed into the next block with a revision number
per (space, key). A `client_ref` is accepted once, so integrators can make
writes idempotent. Sealed blocks are final at once (k of n signers seal them).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devnets.annals.node import sealing

MAX_BLOCK_TXS = 200
MAX_QUEUE = 5000


class BookError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


@dataclass(frozen=True)
class Signer:
    name: str
    key: Ed25519PrivateKey

    @property
    def public_key(self) -> bytes:
        return self.key.public_key().public_bytes_raw()


@dataclass
class Block:
    number: int
    header: bytes
    seals: list[dict[str, str]]
    meta: dict[str, Any]
    txs: list[dict[str, Any]]
    hashes: list[bytes] = field(default_factory=list)

    @property
    def digest(self) -> bytes:
        return hashlib.sha256(self.header).digest()


def load_signers(path: Path) -> tuple[str, list[Signer]]:
    doc = json.loads(path.read_text())
    signers = [
        Signer(s["name"], Ed25519PrivateKey.from_private_bytes(base64.b64decode(s["secret"])))
        for s in doc["signers"]
    ]
    return str(doc["network"]), signers


def new_signers_file(network: str, n: int) -> dict[str, Any]:
    out = []
    for i in range(n):
        key = Ed25519PrivateKey.generate()
        out.append(
            {
                "name": f"seal-{chr(ord('a') + i)}",
                "key": base64.b64encode(key.public_key().public_bytes_raw()).decode(),
                "secret": base64.b64encode(key.private_bytes_raw()).decode(),
            }
        )
    return {"network": network, "signers": out}


class Book:
    def __init__(self, data_dir: Path, network: str, signers: list[Signer], quorum: int) -> None:
        if not 1 <= quorum <= len(signers):
            raise ValueError(f"quorum {quorum} must be 1..{len(signers)}")
        self.network, self.signers, self.quorum = network, signers, quorum
        self.blocks: list[Block] = []
        self.queue: list[dict[str, Any]] = []
        self.revisions: dict[tuple[str, str], list[tuple[int, int]]] = {}
        self.by_txid: dict[str, tuple[int, int] | None] = {}
        self.by_ref: dict[str, str] = {}
        self.sealed = asyncio.Condition()
        self._file = data_dir / "blocks.jsonl"
        data_dir.mkdir(parents=True, exist_ok=True)
        if self._file.exists():
            for line in self._file.read_text().splitlines():
                self._index(self._from_json(json.loads(line)))
        if not self.blocks:
            self._seal([])

    # -- writing ------------------------------------------------------------------------

    def submit(self, tx: dict[str, Any]) -> str:
        ref = tx.get("client_ref")
        if ref and ref in self.by_ref:
            raise BookError(
                409, "DUPLICATE_CLIENT_REF", f"client_ref {ref} was used", txid=self.by_ref[ref]
            )
        if len(self.queue) >= MAX_QUEUE:
            raise BookError(503, "QUEUE_FULL", "too many queued transactions; retry later")
        txid = "ax" + secrets.token_hex(15)
        self.queue.append({**tx, "txid": txid})
        self.by_txid[txid] = None
        if ref:
            self.by_ref[ref] = txid
        return txid

    def seal_queued(self) -> Block | None:
        if not self.queue:
            return None
        batch, self.queue = self.queue[:MAX_BLOCK_TXS], self.queue[MAX_BLOCK_TXS:]
        return self._seal(batch)

    def _seal(self, batch: list[dict[str, Any]]) -> Block:
        prev = self.blocks[-1] if self.blocks else None
        number = prev.number + 1 if prev else 1
        time_ms = max(int(time.time() * 1000), prev.meta["time_ms"] if prev else 0)
        revs: dict[tuple[str, str], int] = {}
        txs = []
        for tx in batch:
            k = (tx["space"], tx["key"])
            if k not in revs:
                revs[k] = len(self.revisions.get(k, []))
            revs[k] += 1
            txs.append({**tx, "rev": revs[k]})
        hashes = [sealing.tx_hash(self.network, t) for t in txs]
        parent = prev.digest if prev else bytes(32)
        header = sealing.sealed_header(
            self.network, number, parent, sealing.merkle_root(hashes), time_ms, len(txs)
        )
        seals = [
            {"signer": s.name, "sig": base64.b64encode(sealing.seal(s.key, header)).decode()}
            for s in sorted(self.signers, key=lambda s: s.name)[: self.quorum]
        ]
        meta = {"producer": self.signers[0].name, "time_ms": time_ms, "parent": parent.hex()}
        block = Block(number, header, seals, meta, txs, hashes)
        with self._file.open("a") as f:
            f.write(json.dumps(self._to_json(block)) + "\n")
        self._index(block)
        return block

    def _index(self, block: Block) -> None:
        if not block.hashes:
            block.hashes = [sealing.tx_hash(self.network, t) for t in block.txs]
        self.blocks.append(block)
        for pos, tx in enumerate(block.txs):
            self.revisions.setdefault((tx["space"], tx["key"]), []).append((block.number, pos))
            self.by_txid[tx["txid"]] = (block.number, pos)
            if tx.get("client_ref"):
                self.by_ref[tx["client_ref"]] = tx["txid"]

    @staticmethod
    def _to_json(b: Block) -> dict[str, Any]:
        header = base64.b64encode(b.header).decode()
        return {
            "number": b.number,
            "header": header,
            "seals": b.seals,
            "meta": b.meta,
            "txs": b.txs,
        }

    @staticmethod
    def _from_json(d: dict[str, Any]) -> Block:
        return Block(d["number"], base64.b64decode(d["header"]), d["seals"], d["meta"], d["txs"])

    # -- reading ------------------------------------------------------------------------

    @property
    def latest(self) -> Block:
        return self.blocks[-1]

    def block(self, number: int) -> Block | None:
        first = self.blocks[0].number
        if number < first or number > self.latest.number:
            return None
        return self.blocks[number - first]

    async def run_sealer(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if self.seal_queued() is not None:
                async with self.sealed:
                    self.sealed.notify_all()
