"""Record-listing page tokens: sealed by the hub, so a made-up or edited one is refused as
not issued (INVALID_ARGUMENT, never INTERNAL), and one of another filter says so."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from hub import paging
from hub.errors import InvalidInput
from hub.records import PagePosition, decode_page_token, encode_page_token
from tonglian.v1 import query_pb2

FLT = query_pb2.RecordFilter(chain_id="c", namespace="n")


def test_round_trip() -> None:
    token = encode_page_token(PagePosition(12, 3), FLT)
    assert decode_page_token(token, FLT) == PagePosition(12, 3)


def test_token_of_another_filter() -> None:
    token = encode_page_token(PagePosition(1, 0), query_pb2.RecordFilter(chain_id="c"))
    with pytest.raises(InvalidInput) as err:
        decode_page_token(token, query_pb2.RecordFilter(chain_id="d"))
    assert str(err.value) == "page_token belongs to another filter; start again without it"
    # The whole filter counts, however long: not a prefix of its encoding.
    long_a = query_pb2.RecordFilter(chain_id="c", namespace="n" * 200, key_prefix="a")
    long_b = query_pb2.RecordFilter(chain_id="c", namespace="n" * 200, key_prefix="b")
    with pytest.raises(InvalidInput, match="belongs to another filter"):
        decode_page_token(encode_page_token(PagePosition(1, 0), long_a), long_b)


def _unsealed(payload: dict[str, object] | str) -> str:
    """A token in the unsealed format (base64 of the JSON), as a forger would write it."""
    raw = payload if isinstance(payload, str) else json.dumps(payload)
    return base64.urlsafe_b64encode(raw.encode()).decode()


FP = json.loads(
    base64.urlsafe_b64decode(encode_page_token(PagePosition(1, 0), FLT) + "==")[
        : -paging.SEAL_BYTES
    ]
)["f"]


@pytest.mark.parametrize(
    "token",
    [
        "!!",
        "e30=",
        "bnVsbA==",
        "eyJoIjogIngifQ==",
        _unsealed(f'{{"h": Infinity, "s": 0, "f": "{FP}"}}'),
        _unsealed(f'{{"h": 1e400, "s": 0, "f": "{FP}"}}'),
        _unsealed(f'{{"h": NaN, "s": 0, "f": "{FP}"}}'),
        _unsealed({"h": 5, "s": 0, "f": FP}),
        "名字",
        "A" * 5000,
    ],
)
def test_forged_tokens(token: str) -> None:
    with pytest.raises(InvalidInput) as err:
        decode_page_token(token, FLT)
    assert str(err.value) == "page_token is not one this hub issued"


def test_edited_token_is_refused() -> None:
    token = encode_page_token(PagePosition(7, 2), FLT)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    payload = bytes(raw[: -paging.SEAL_BYTES]).replace(b'"h": 7', b'"h": 9')
    edited = base64.urlsafe_b64encode(payload + bytes(raw[-paging.SEAL_BYTES :])).decode()
    with pytest.raises(InvalidInput) as err:
        decode_page_token(edited, FLT)
    assert str(err.value) == "page_token is not one this hub issued"


def test_a_sealed_token_with_a_bad_position_is_still_refused() -> None:
    # Even under the hub's own key, only non-negative integers are positions.
    for position in ("1e400", "-1", "1.5", "true"):
        payload = f'{{"h": {position}, "s": 0, "f": "{FP}"}}'
        token = paging.token_seal().seal(payload.encode())
        with pytest.raises(InvalidInput, match=r"^page_token is not one this hub issued$"):
            decode_page_token(token, FLT)


def test_tokens_of_another_key_are_not_issued_here() -> None:
    token = encode_page_token(PagePosition(3, 0), FLT)
    before = paging.token_seal()
    try:
        paging.use_token_key(ec.generate_private_key(ec.SECP256R1()))
        with pytest.raises(InvalidInput, match=r"^page_token is not one this hub issued$"):
            decode_page_token(token, FLT)
        # Same key, same seal: what replicas sharing the signing key rely on.
        key = ec.generate_private_key(ec.SECP256R1())
        paging.use_token_key(key)
        sealed = encode_page_token(PagePosition(3, 0), FLT)
        paging.use_token_key(key)
        assert decode_page_token(sealed, FLT) == PagePosition(3, 0)
    finally:
        paging._Seals.current = before
