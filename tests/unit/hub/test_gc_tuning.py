"""A serving hub collects cycles rarely and never rescans what it built at start."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from hub.gc_tuning import FULL, MIDDLE, YOUNG, settle_for_serving


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_settling_freezes_what_exists_and_raises_the_thresholds(restored_gc: None) -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self  # a cycle: only the collector frees it

    kept = Node()
    Node()  # garbage: collected before the freeze, not frozen with it
    settle_for_serving()
    assert gc.get_threshold() == (YOUNG, MIDDLE, FULL)
    assert gc.get_freeze_count() > 0
    assert all(o is not kept for o in gc.get_objects())  # frozen: never scanned again
    assert not any(type(o) is Node for o in gc.get_objects())  # the garbage was collected
