"""Page sizes and page tokens, checked the same way by every listing the hub serves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from hub.errors import InvalidInput

T = TypeVar("T")

NOT_ISSUED = "page_token is not one this hub issued"
# Ids (chain, route) are at most 63 characters; a longer token is not one of ours.
MAX_ID_TOKEN = 64
# Sequence tokens are SQLite integers.
MAX_SEQUENCE = 2**63 - 1


def page_size(requested: int, default: int, maximum: int) -> int:
    """The page size to use: `default` for 0, refused above `maximum`."""
    if requested > maximum:
        raise InvalidInput(f"page_size {requested} is above the limit of {maximum}")
    return requested or default


def id_token(token: str) -> str:
    """A token that is the last id of the previous page."""
    if len(token) > MAX_ID_TOKEN:
        raise InvalidInput(NOT_ISSUED)
    return token


def sequence_token(token: str) -> int:
    """A token that is the last sequence number of the previous page; 0 when empty."""
    if not token:
        return 0
    if not token.isdigit() or len(token) > 19 or int(token) > MAX_SEQUENCE:
        raise InvalidInput(NOT_ISSUED)
    return int(token)


def split_page(items: Sequence[T], size: int) -> tuple[list[T], bool]:
    """The first `size` items of a fetch of `size + 1`, and whether there are more."""
    return list(items[:size]), len(items) > size


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing and the token of the next ("" on the last page)."""

    items: list[T]
    next_page_token: str = ""
