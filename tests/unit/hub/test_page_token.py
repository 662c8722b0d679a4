from __future__ import annotations

import pytest

from hub.errors import InvalidInput
from hub.records import PagePosition, decode_page_token, encode_page_token
from tonglian.v1 import query_pb2


def test_round_trip() -> None:
    flt = query_pb2.RecordFilter(chain_id="c", namespace="n")
    token = encode_page_token(PagePosition(12, 3), flt)
    assert decode_page_token(token, flt) == PagePosition(12, 3)


def test_token_of_another_filter() -> None:
    token = encode_page_token(PagePosition(1, 0), query_pb2.RecordFilter(chain_id="c"))
    with pytest.raises(InvalidInput) as err:
        decode_page_token(token, query_pb2.RecordFilter(chain_id="d"))
    assert str(err.value) == "page_token belongs to another filter; start again without it"


@pytest.mark.parametrize("token", ["!!", "e30=", "bnVsbA==", "eyJoIjogIngifQ=="])
def test_garbage_tokens(token: str) -> None:
    with pytest.raises(InvalidInput) as err:
        decode_page_token(token, query_pb2.RecordFilter(chain_id="c"))
    assert str(err.value) == "page_token is not one this hub issued"
