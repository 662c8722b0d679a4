"""Tampered copies of a (record, proof): every one must fail verification.

Proof fields are changed by walking the Proof message, so the same code covers
every proof kind: each bytes field gets a flipped bit, each number +1, each
string an extra character, each flag its opposite; repeated fields change in
their first element. Record fields are changed only where the proof kind binds
them (an EVM storage proof does not cover tx_id or commit_time, for instance).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from tonglian.v1 import records_pb2

# Record fields each proof kind binds; changing any of these must break the proof.
BOUND_RECORD_FIELDS: dict[str, tuple[str, ...]] = {
    "signed_merkle": (
        "ref.namespace",
        "ref.key",
        "schema",
        "value",
        "version",
        "deleted",
        "tx_id",
        "block_height",
        "commit_time",
    ),
    "evm": ("ref.namespace", "ref.key", "schema", "value", "version", "deleted"),
    "fabric": ("ref.namespace", "ref.key", "value", "tx_id"),
}
# Proof fields (by name, at any depth) whose change may rightly still verify: the hub
# attests EVM headers itself, and a signature relabelled to an unknown validator is
# ignored, which is harmless when more than k validators signed.
UNBOUND_PROOF_FIELDS: dict[str, frozenset[str]] = {
    "evm": frozenset({"attestations"}),
    "signed_merkle": frozenset({"validator_id"}),
}
MAX_VARIANTS = 48


@dataclass(frozen=True)
class Tampered:
    what: str
    record: records_pb2.Record
    proof: records_pb2.Proof


def _flip(data: bytes) -> bytes:
    if not data:
        return b"\x01"
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


def _set_record_field(
    record: records_pb2.Record, name: str
) -> Iterator[tuple[str, Callable[[records_pb2.Record], None]]]:
    if name == "value":
        yield "record value (one bit)", lambda r: setattr(r, "value", _flip(r.value))
        yield "record value (other valid JSON)", lambda r: setattr(r, "value", b'{"tampered":1}')
    elif name in ("ref.namespace", "ref.key"):
        field = name.split(".")[1]
        yield f"record {name}", lambda r: setattr(r.ref, field, getattr(r.ref, field) + "x")
    elif name in ("schema", "tx_id"):
        yield f"record {name}", lambda r: setattr(r, name, getattr(r, name) + "x")
    elif name in ("version", "block_height"):
        yield f"record {name} + 1", lambda r: setattr(r, name, getattr(r, name) + 1)
    elif name == "deleted":
        yield "record deleted flag", lambda r: setattr(r, "deleted", not r.deleted)
    elif name == "commit_time":
        yield (
            "record commit_time + 1s",
            lambda r: setattr(r.commit_time, "seconds", r.commit_time.seconds + 1),
        )


def record_variants(record: records_pb2.Record, proof: records_pb2.Proof) -> Iterator[Tampered]:
    kind = proof.WhichOneof("kind") or ""
    for name in BOUND_RECORD_FIELDS.get(kind, ()):
        for what, change in _set_record_field(record, name):
            copy = records_pb2.Record()
            copy.CopyFrom(record)
            change(copy)
            yield Tampered(what, copy, proof)


def _leaf_changes(
    message: Message, prefix: str, skip: frozenset[str]
) -> Iterator[tuple[str, Callable[[Message], None]]]:
    """(path, change) for every set scalar field below `message`; changes apply to a copy."""
    for fd, value in message.ListFields():
        path = f"{prefix}{fd.name}"
        if fd.name in skip:
            continue
        repeated = fd.label == FieldDescriptor.LABEL_REPEATED
        if fd.type == FieldDescriptor.TYPE_MESSAGE:
            if repeated and len(value) == 0:
                continue
            child = value[0] if repeated else value
            suffix = "[0]." if repeated else "."
            for sub, change in _leaf_changes(child, path + suffix, skip):
                yield sub, _descend(fd.name, repeated, change)
            continue
        yield (f"{path}[0]" if repeated else path), _scalar_change(fd, repeated)


def _descend(
    name: str, repeated: bool, change: Callable[[Message], None]
) -> Callable[[Message], None]:
    def apply(msg: Message) -> None:
        child = getattr(msg, name)
        change(child[0] if repeated else child)

    return apply


def _scalar_change(fd: FieldDescriptor, repeated: bool) -> Callable[[Message], None]:
    def mutate(v: object) -> object:
        if isinstance(v, bool):
            return not v
        if isinstance(v, bytes):
            return _flip(v)
        if isinstance(v, int):
            return v + 1
        if isinstance(v, str):
            return v + "x"
        return v

    def apply(msg: Message) -> None:
        if repeated:
            items = getattr(msg, fd.name)
            items[0] = mutate(items[0])
        else:
            setattr(msg, fd.name, mutate(getattr(msg, fd.name)))

    return apply


def proof_variants(record: records_pb2.Record, proof: records_pb2.Proof) -> Iterator[Tampered]:
    kind = proof.WhichOneof("kind")
    if kind is None:
        return
    inner: Message = getattr(proof, kind)
    skip = UNBOUND_PROOF_FIELDS.get(kind, frozenset())
    for path, change in _leaf_changes(inner, f"proof.{kind}.", skip):
        copy = records_pb2.Proof()
        copy.CopyFrom(proof)
        change(getattr(copy, kind))
        yield Tampered(path, record, copy)


def variants(record: records_pb2.Record, proof: records_pb2.Proof) -> list[Tampered]:
    """Record variants first, then proof variants, at most MAX_VARIANTS in all."""
    out = list(record_variants(record, proof))
    for t in proof_variants(record, proof):
        if len(out) >= MAX_VARIANTS:
            break
        out.append(t)
    return out
