"""The example policy docs/security.md shows is the file the attack suite runs, and it loads."""

from __future__ import annotations

from pathlib import Path

from hub.policy import Decision, Request, parse_policy

DOCS = Path(__file__).parents[3] / "docs"
EXAMPLE = DOCS / "examples" / "policy.yaml"


def test_the_security_page_shows_the_example_file_verbatim() -> None:
    text = EXAMPLE.read_text()
    assert f"```yaml\n{text}```" in (DOCS / "security.md").read_text()


def test_the_example_loads_and_decides_residence_before_the_read() -> None:
    policy = parse_policy(EXAMPLE.read_bytes(), EXAMPLE)
    decision = policy.decide_before_read(
        "market-regulator", Request("custom-1", "residence", None, "business-registration")
    )
    assert isinstance(decision, Decision) and not decision.allowed
    assert decision.rule == "regulator-no-residence"
    bound = policy.predicate_limits("tax-questions")
    assert bound is not None and bound.limits.per_field_per_day == 3
