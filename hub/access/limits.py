"""How much of the hub one principal may hold at once: open streams and calls in progress.

Without a bound, one agency's certificate could open thousands of WatchRecords streams,
each holding a long poll on a chain's adapter, and starve every other agency's reads and
the relay. Each call takes a slot for as long as it runs; a call past a limit is refused
at once (LimitExceeded, RESOURCE_EXHAUSTED) with a message that names the limit and the
setting that raises it. Operator certificates are counted apart from their agency's other
clients, under their own limits, so an agency's flood never locks its operators out.
The relay does not run through calls, so no principal's slots can starve it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from hub.errors import LimitExceeded
from hub.principal import Principal


@dataclass(frozen=True)
class LimitSettings:
    """The limits, as `HubSettings` names them (each also TONGLIAN_<NAME>)."""

    max_streams_per_certificate: int = 8
    max_streams_per_agency: int = 16
    max_calls_per_agency: int = 64
    max_operator_streams: int = 64
    max_operator_calls: int = 256


@dataclass(frozen=True)
class _Bound:
    """One counted limit: what it counts, for whom, and the setting that raises it."""

    counter: Counter[str]
    key: str
    limit: int
    setting: str
    what: str
    remedy: str = "close some"


class Slot:
    """A call's hold on its counts; `release` gives them back (once)."""

    def __init__(self, bounds: tuple[_Bound, ...]) -> None:
        self._bounds = bounds

    def release(self) -> None:
        for bound in self._bounds:
            left = bound.counter[bound.key] - 1
            if left > 0:
                bound.counter[bound.key] = left
            else:
                del bound.counter[bound.key]
        self._bounds = ()


class PrincipalLimits:
    """The slots every principal holds; one instance per hub (the access interceptor's)."""

    def __init__(self, settings: LimitSettings) -> None:
        self._settings = settings
        self._streams_by_certificate: Counter[str] = Counter()
        self._streams_by_agency: Counter[str] = Counter()
        self._calls_by_agency: Counter[str] = Counter()
        self._operator_streams: Counter[str] = Counter()
        self._operator_calls: Counter[str] = Counter()

    def open_stream(self, principal: Principal) -> Slot:
        """A slot for a server stream; LimitExceeded when the certificate or the agency
        already holds as many as it may."""
        s = self._settings
        if principal.is_operator:
            return self._take(
                _Bound(
                    self._operator_streams,
                    principal.agency,
                    s.max_operator_streams,
                    "max_operator_streams",
                    f"operators of agency {principal.agency!r} have {{n}} open streams",
                )
            )
        return self._take(
            _Bound(
                self._streams_by_certificate,
                f"{principal.agency}/{principal.client}/{principal.serial}",
                s.max_streams_per_certificate,
                "max_streams_per_certificate",
                f"certificate {principal.name!r} (serial {principal.serial or '-'}) has "
                "{n} open streams",
            ),
            _Bound(
                self._streams_by_agency,
                principal.agency,
                s.max_streams_per_agency,
                "max_streams_per_agency",
                f"agency {principal.agency!r} has {{n}} open streams",
            ),
        )

    def start_call(self, principal: Principal) -> Slot:
        """A slot for a unary call in progress; LimitExceeded past the agency's limit."""
        s = self._settings
        if principal.is_operator:
            bound = _Bound(
                self._operator_calls,
                principal.agency,
                s.max_operator_calls,
                "max_operator_calls",
                f"operators of agency {principal.agency!r} have {{n}} calls in progress",
                "wait for some to finish",
            )
        else:
            bound = _Bound(
                self._calls_by_agency,
                principal.agency,
                s.max_calls_per_agency,
                "max_calls_per_agency",
                f"agency {principal.agency!r} has {{n}} calls in progress",
                "wait for some to finish",
            )
        return self._take(bound)

    def open_streams(self, agency: str) -> int:
        """Streams the agency's clients (not its operators) hold now."""
        return self._streams_by_agency[agency]

    @staticmethod
    def _take(*bounds: _Bound) -> Slot:
        for bound in bounds:
            held = bound.counter[bound.key]
            if held >= bound.limit:
                what = bound.what.format(n=held)
                raise LimitExceeded(
                    f"{what}, the limit ({bound.setting}); {bound.remedy} or raise it in "
                    "the hub's config",
                    limit=bound.setting,
                )
        for bound in bounds:
            bound.counter[bound.key] += 1
        return Slot(bounds)
