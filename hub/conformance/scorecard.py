"""A scorecard: one outcome per clause with its evidence, for people (a table) and machines (JSON).

Outcomes: pass; fail; skip (could not be checked: a mandatory skip does not
certify); n/a (the clause does not apply, e.g. submit on a read-only adapter).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

Outcome = Literal["pass", "fail", "skip", "n/a"]
REPORT_FORMAT = "tonglian.conformance-report/v1"


@dataclass
class ClauseResult:
    clause: str
    title: str
    mandatory: bool
    outcome: Outcome
    evidence: list[str] = field(default_factory=list)

    @property
    def certifies(self) -> bool:
        return self.outcome in ("pass", "n/a") or not self.mandatory


@dataclass
class Scorecard:
    target: str
    adapter: str = ""
    chain_kind: str = ""
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    results: list[ClauseResult] = field(default_factory=list)

    @property
    def certified(self) -> bool:
        return bool(self.results) and all(r.certifies for r in self.results)

    def result(self, clause: str) -> ClauseResult:
        for r in self.results:
            if r.clause == clause:
                return r
        raise KeyError(clause)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "target": self.target,
            "adapter": self.adapter,
            "chain_kind": self.chain_kind,
            "started_at": self.started_at,
            "certified": self.certified,
            "clauses": [asdict(r) for r in self.results],
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n")

    def render(self) -> str:
        lines = [f"conformance of {self.target} ({self.adapter or 'no describe'})", ""]
        width = max((len(r.clause) for r in self.results), default=10)
        for r in self.results:
            need = "" if r.mandatory else " (advisory)"
            lines.append(f"{r.outcome.upper():5} {r.clause.ljust(width)}  {r.title}{need}")
            lines += [f"{'':5} {'':{width}}    - {e}" for e in r.evidence]
        verdict = "CERTIFIED" if self.certified else "NOT CERTIFIED"
        failed = [r.clause for r in self.results if not r.certifies]
        lines += ["", verdict + (f": {', '.join(failed)} did not pass" if failed else "")]
        return "\n".join(lines)
