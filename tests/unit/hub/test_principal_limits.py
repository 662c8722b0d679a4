"""Per-principal limits (hub/access/limits.py): what is counted, for whom, what a refusal says."""

from __future__ import annotations

import pytest

from hub.access.limits import LimitSettings, PrincipalLimits
from hub.config import HubSettings, load_settings
from hub.errors import InvalidInput, LimitExceeded
from hub.principal import Principal

ALICE = Principal("tax-bureau", "alice", "agency", "a1")
BOB = Principal("tax-bureau", "bob", "agency", "b2")
CAROL = Principal("tax-bureau", "carol", "agency", "c3")
OTHER = Principal("market-regulator", "dave", "agency", "d4")
OPS = Principal("tax-bureau", "ops", "operator", "e5")

SETTINGS = LimitSettings(
    max_streams_per_certificate=2,
    max_streams_per_agency=3,
    max_calls_per_agency=2,
    max_operator_streams=1,
    max_operator_calls=1,
)


def refused(call: object) -> str:
    with pytest.raises(LimitExceeded) as err:
        call()  # type: ignore[operator]
    assert err.value.reason == "LIMIT_EXCEEDED"
    return str(err.value)


def test_streams_per_certificate_then_per_agency() -> None:
    limits = PrincipalLimits(SETTINGS)
    alice = [limits.open_stream(ALICE), limits.open_stream(ALICE)]
    assert refused(lambda: limits.open_stream(ALICE)) == (
        "certificate 'tax-bureau/alice' (serial a1) has 2 open streams, the limit "
        "(max_streams_per_certificate); close some or raise it in the hub's config"
    )
    limits.open_stream(BOB)
    assert refused(lambda: limits.open_stream(CAROL)) == (
        "agency 'tax-bureau' has 3 open streams, the limit (max_streams_per_agency); close "
        "some or raise it in the hub's config"
    )
    # Another agency and the agency's operators are counted apart.
    limits.open_stream(OTHER)
    ops = limits.open_stream(OPS)
    assert refused(lambda: limits.open_stream(OPS)) == (
        "operators of agency 'tax-bureau' have 1 open streams, the limit "
        "(max_operator_streams); close some or raise it in the hub's config"
    )
    # A refused stream took nothing; a closed one gives its slot back, once.
    assert limits.open_streams("tax-bureau") == 3
    alice[0].release()
    alice[0].release()
    assert limits.open_streams("tax-bureau") == 2
    limits.open_stream(CAROL)
    ops.release()
    limits.open_stream(OPS)


def test_calls_in_progress_per_agency() -> None:
    limits = PrincipalLimits(SETTINGS)
    first, _ = limits.start_call(ALICE), limits.start_call(BOB)
    assert refused(lambda: limits.start_call(CAROL)) == (
        "agency 'tax-bureau' has 2 calls in progress, the limit (max_calls_per_agency); wait "
        "for some to finish or raise it in the hub's config"
    )
    limits.start_call(OTHER)
    limits.start_call(OPS)
    assert "(max_operator_calls)" in refused(lambda: limits.start_call(OPS))
    first.release()
    limits.start_call(CAROL)
    # Streams and calls are separate budgets.
    limits.open_stream(ALICE)


def test_defaults_and_settings_names() -> None:
    defaults = HubSettings()
    assert LimitSettings() == LimitSettings(
        **{name: getattr(defaults, name) for name in LimitSettings.__dataclass_fields__}
    )
    assert (defaults.max_streams_per_certificate, defaults.max_streams_per_agency) == (8, 16)
    assert (defaults.max_calls_per_agency, defaults.max_operator_streams) == (64, 64)
    assert defaults.max_operator_calls == 256


def test_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TONGLIAN_MAX_STREAMS_PER_AGENCY", "5")
    assert load_settings().max_streams_per_agency == 5
    monkeypatch.setenv("TONGLIAN_MAX_STREAMS_PER_AGENCY", "0")
    with pytest.raises(InvalidInput, match="max_streams_per_agency: Input should be greater"):
        load_settings()
