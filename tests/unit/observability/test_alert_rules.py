"""docs/alerts.yml parses as a Prometheus rule file, and alerts only on series the hub exports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import promql_parser
import yaml

from hub.observability.metrics import HubMetrics

RULES = Path(__file__).resolve().parents[3] / "docs" / "alerts.yml"
RULE_KEYS = {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}


def exported_series() -> set[str]:
    """Every sample name the hub can export (counters as *_total, histograms' parts)."""
    names: set[str] = set()
    for family in HubMetrics().registry.collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {f"{family.name}_{part}" for part in ("bucket", "sum", "count")}
        else:
            names.add(family.name)
    return names


def selectors(expr: promql_parser.Expr) -> list[str]:
    seen: list[str] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            seen.append(node.name)
        return True

    promql_parser.walk(expr, visit)
    return seen


def test_alert_rules_parse_and_use_exported_series() -> None:
    doc = yaml.safe_load(RULES.read_text())
    assert set(doc) == {"groups"}
    alerts: list[str] = []
    exported = exported_series()
    for group in doc["groups"]:
        assert isinstance(group["name"], str) and group["rules"]
        for rule in group["rules"]:
            assert set(rule) <= RULE_KEYS, set(rule) - RULE_KEYS
            alerts.append(rule["alert"])
            promql_parser.parse_duration(rule["for"])
            expr = promql_parser.parse(rule["expr"])
            used = selectors(expr)
            assert used and set(used) <= exported, set(used) - exported
            assert all(isinstance(v, str) for v in rule["labels"].values())
            assert rule["labels"]["severity"] in {"warning", "critical"}
            assert isinstance(rule["annotations"]["summary"], str)
    assert alerts == [
        "TonglianRouteBacklogGrowing",
        "TonglianOldestPendingDeliveryTooOld",
        "TonglianAdapterErrors",
        "TonglianAuditAnchoringLate",
        "TonglianHttpListenerCuttingConnections",
    ]


def test_a_broken_expression_is_refused() -> None:
    try:
        promql_parser.parse("rate(tonglian_adapter_errors_total[5m] > 0")
    except ValueError as exc:
        assert "unclosed left parenthesis" in str(exc)
    else:
        raise AssertionError("the parser accepted a broken expression")
