"""Fixtures for the use case tests (the fakes are in fakes.py)."""

from __future__ import annotations

import pytest

from tests.unit.hub.usecases.fakes import FakeAudit, Scene, new_scene


@pytest.fixture
def scene() -> Scene:
    return new_scene()


@pytest.fixture
def audit() -> FakeAudit:
    return FakeAudit()
