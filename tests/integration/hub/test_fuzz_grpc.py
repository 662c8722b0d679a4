"""Every tonglian.v1 method of the hub, fed garbage and random well-formed requests:
each answer is a precise status (never INTERNAL or UNKNOWN), and the hub stays up with
its stored work intact."""

from __future__ import annotations

import random
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, ServiceDescriptor

from tonglian.v1 import audit_pb2, chains_pb2, chains_pb2_grpc, query_pb2, relay_pb2

pytestmark = pytest.mark.integration

SERVICES: list[ServiceDescriptor] = [
    chains_pb2.DESCRIPTOR.services_by_name["ChainRegistry"],
    query_pb2.DESCRIPTOR.services_by_name["Query"],
    relay_pb2.DESCRIPTOR.services_by_name["Relay"],
    audit_pb2.DESCRIPTOR.services_by_name["Audit"],
]
BAD = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
STRINGS = ["", "a", "custom-1", "x" * 5000, "../../etc/passwd", "\x00\x01", "名字", "-1", "9" * 30]


def random_value(field: FieldDescriptor, rng: random.Random, depth: int) -> Any:
    t = field.type
    if t == FieldDescriptor.TYPE_STRING:
        return rng.choice(STRINGS)
    if t == FieldDescriptor.TYPE_BYTES:
        return rng.randbytes(rng.choice([0, 1, 20, 32, 300]))
    if t == FieldDescriptor.TYPE_BOOL:
        return rng.random() < 0.5
    if t == FieldDescriptor.TYPE_ENUM:
        return rng.choice([v.number for v in field.enum_type.values] + [99])
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return rng.choice([0.0, -1.0, 1e300])
    if t == FieldDescriptor.TYPE_MESSAGE:
        return None
    big = (
        2**64 - 1 if t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64) else 2**31 - 1
    )
    return rng.choice([0, 1, 7, 1000, big])


def fill(msg: Any, desc: Descriptor, rng: random.Random, depth: int = 0) -> None:
    for field in desc.fields:
        if rng.random() < 0.4:
            continue
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if depth > 3 or field.message_type.GetOptions().map_entry:
                continue
            if field.message_type.full_name.startswith("google.protobuf.") and (
                field.message_type.name != "Timestamp"
            ):
                continue
            if field.label == FieldDescriptor.LABEL_REPEATED:
                for _ in range(rng.randint(0, 2)):
                    fill(getattr(msg, field.name).add(), field.message_type, rng, depth + 1)
            else:
                fill(getattr(msg, field.name), field.message_type, rng, depth + 1)
                if field.message_type.name == "Timestamp":
                    getattr(msg, field.name).nanos = rng.choice([0, 5])
            continue
        value = random_value(field, rng, depth)
        if field.label == FieldDescriptor.LABEL_REPEATED:
            getattr(msg, field.name).extend([value] * rng.randint(0, 2))
        else:
            setattr(msg, field.name, value)


async def call(
    channel: grpc.aio.Channel, service: ServiceDescriptor, method: Any, body: bytes
) -> grpc.StatusCode:
    path = f"/{service.full_name}/{method.name}"
    try:
        if method.server_streaming:
            stream = channel.unary_stream(path)(body, timeout=3)
            async for _ in stream:
                break
            stream.cancel()
            return grpc.StatusCode.OK
        await channel.unary_unary(path)(body, timeout=10)
        return grpc.StatusCode.OK
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED and method.server_streaming:
            return grpc.StatusCode.OK  # a watch that waits is a correct answer
        return exc.code()


async def test_fuzz_every_method(hub_channel: grpc.aio.Channel) -> None:
    registry = chains_pb2_grpc.ChainRegistryStub(hub_channel)
    keep = chains_pb2.Chain(chain_id="keep-me", kind=chains_pb2.CHAIN_KIND_SIGNED_MERKLE)
    keep.adapter.adapter = "custom"
    keep.adapter.options.update({"url": "http://127.0.0.1:9"})
    sm = keep.trust_anchor.signed_merkle
    sm.ledger_id, sm.threshold = "l", 1
    sm.validators.add(id="v1", ed25519_public_key=b"\x02" * 32)
    await registry.RegisterChain(chains_pb2.RegisterChainRequest(chain=keep))

    rng = random.Random(20261127)
    failures: list[str] = []
    for service in SERVICES:
        for method in service.methods:
            cls = message_factory.GetMessageClass(method.input_type)
            bodies = [b"", b"\xff\xff\xff\xff", b"\x0a\xff\xff\xff\x0f", rng.randbytes(64)]
            for _ in range(12):
                msg = cls()
                fill(msg, method.input_type, rng)
                bodies.append(msg.SerializeToString())
            for body in bodies:
                code = await call(hub_channel, service, method, body)
                if code in BAD:
                    failures.append(
                        f"{service.name}.{method.name}({body[:40]!r}...) -> {code.name}"
                    )
    assert failures == [], "\n".join(failures)
    # Bytes that are no protobuf at all: a precise refusal that names the message type.
    for service in SERVICES:
        for method in service.methods:
            path = f"/{service.full_name}/{method.name}"
            with pytest.raises(grpc.aio.AioRpcError) as err:
                if method.server_streaming:
                    async for _ in hub_channel.unary_stream(path)(b"\xff\xff\xff\xff", timeout=5):
                        pass
                else:
                    await hub_channel.unary_unary(path)(b"\xff\xff\xff\xff", timeout=5)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, path
            assert (err.value.details() or "").startswith(
                f"the request is not a valid {method.input_type.full_name} message: "
            ), err.value.details()
    chains = await registry.ListChains(chains_pb2.ListChainsRequest(page_size=1000))
    assert "keep-me" in [c.chain_id for c in chains.chains]
