"""Per-agency access policy: which principal may read what, for which purposes, and who operates.

A policy file (YAML) names each agency (the O= of its certificates) and lists
ordered rules. Deny by default: a read is allowed only when the first rule that
matches it allows it, and every decision names the rule that made it.

    version: 1
    principals:
      market-regulator:             # certificate subject O=
        operator: false             # true: may register chains, manage routes, read the audit
                                    # log, on every chain; or a rule scoping that to chains:
                                    #   operator: {name: ops-evm, chains: ["evm-*"]}
        rules:
          - name: regulator-licences    # unique in the file; quoted in every decision
            effect: allow               # allow (default) or deny
            access: read                # read (records and predicates) or predicate (yes/no only),
                                        # or write (put records; implies no read, docs/writing.md)
            chains: [custom-1]          # glob patterns (fnmatch); "*" matches anything
            namespaces: [licences]      # default ["*"]
            schemas: ["gov.license.*"]  # default ["*"]
            purposes: [business-registration]
            predicates:                 # optional: bounds the yes/no questions this rule allows
              per_field_per_day: 3      # distinct questions per record and field in 24 hours
                                        # (default 10)
              operators: [equals, less_than]      # default: every operator
              thresholds:               # ordering operands allowed, per field (JSON text);
                amount_due: ["0", "10000"]        # a field not listed gets no ordering question
    namespace_schemas:                  # optional: the schemas a namespace holds, so that
      "custom-1/residence": [gov.residence.certificate/v1]   # reads are decided before reading

Patterns are fnmatch globs, matched case-sensitively. docs/examples/policy.yaml is a
whole example; docs/security.md says what a plain policy guarantees.

A plain policy (no `namespace_schemas`, no `predicates:`) is a safe one:

- What chain, namespace and purpose decide is decided before the read, so a rule
  that does not list schemas never reads the record to refuse it. A decision that
  turns on a record's schema cannot be made before the read unless
  `namespace_schemas` declares the namespace; the hub then refuses a missing record
  and a forbidden one with the same status and message (the true reason goes to the
  audit log), so no answer tells whether a record exists. A listing or watch of a
  namespace the agency may not read is refused naming the rule.
- A rule that allows yes/no questions without a `predicates:` block gets the default
  budget (DEFAULT_LIMITS): `equals` and `exists` only, so no ordering question, and 10
  distinct questions per agency, record and field a day. No limits at all is written
  `predicates: unlimited`, and the hub logs a warning each time it loads such a policy.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError

from hub.errors import InvalidInput, PermissionDenied

READ = "read"
PREDICATE = "predicate"
# Writing records (Query.PutRecord): granted only by a rule with access "write", which in
# turn grants no read; a deny rule refuses writes as it refuses every other access.
WRITE = "write"


OPERATORS = (
    "equals",
    "not_equals",
    "less_than",
    "less_or_equal",
    "greater_than",
    "greater_or_equal",
    "between",
    "exists",
)
PredicateOperatorName = Literal[
    "equals",
    "not_equals",
    "less_than",
    "less_or_equal",
    "greater_than",
    "greater_or_equal",
    "between",
    "exists",
]
BUDGET_WINDOW_SECONDS = 86400.0
DEFAULT_PER_FIELD_PER_DAY = 10
UNLIMITED = "unlimited"

log = logging.getLogger("tonglian.hub")


class PredicateLimits(BaseModel):
    """What yes/no questions a rule allows, so that a run of them cannot recover a value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_field_per_day: int = Field(default=DEFAULT_PER_FIELD_PER_DAY, ge=1, le=10_000)
    operators: list[PredicateOperatorName] | None = Field(default=None, min_length=1)
    thresholds: dict[str, list[str]] | None = None


# The budget of a rule that allows yes/no questions and has no `predicates:` block: no
# ordering question (so no bisection), and a few distinct questions a day.
DEFAULT_LIMITS = PredicateLimits(
    per_field_per_day=DEFAULT_PER_FIELD_PER_DAY, operators=["equals", "exists"], thresholds={}
)


_BLOCK = "block"


def _predicates_kind(value: object) -> str:
    return UNLIMITED if isinstance(value, str) else _BLOCK


# A rule's `predicates:`: a block of limits, or the word "unlimited" (nothing else).
RulePredicates = Annotated[
    Annotated[PredicateLimits, Tag(_BLOCK)] | Annotated[Literal["unlimited"], Tag(UNLIMITED)],
    Discriminator(_predicates_kind),
]


@dataclass(frozen=True)
class RuleLimits:
    """The predicate limits in force for one rule, and whether they are the default
    (the rule has no `predicates:` block), so that a refusal can say where they come from."""

    rule: str
    limits: PredicateLimits
    default: bool


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    effect: Literal["allow", "deny"] = "allow"
    access: Literal["read", "predicate", "write"] = "read"
    chains: list[str] = Field(min_length=1)
    namespaces: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    schemas: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    purposes: list[str] = Field(min_length=1)
    # None: DEFAULT_LIMITS; "unlimited": no bound at all (logged when loaded).
    predicates: RulePredicates | None = None


class OperatorRule(BaseModel):
    """Operator rights limited to some chains: register, route from or to, administer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    chains: list[str] = Field(min_length=1)


class PrincipalRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    operator: bool | OperatorRule = False
    rules: list[Rule] = Field(default_factory=list)


class PolicyDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    principals: dict[str, PrincipalRules]
    # "chain/namespace" -> the schemas its records have (see "decide before the read").
    namespace_schemas: dict[str, list[str]] = Field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    """One access to decide. None for namespace or schema means "not known yet": the
    decision is then whether any record could be allowed (refuse early, filter later)."""

    chain_id: str
    namespace: str | None
    schema: str | None
    purpose: str
    access: str = READ

    def describe(self) -> str:
        what = f"{self.chain_id}/{self.namespace if self.namespace is not None else '*'}"
        if self.schema is not None:
            what += f" (schema {self.schema or 'none'})"
        verb = {READ: "read", WRITE: "write to"}.get(self.access, "evaluate predicates on")
        return f"{verb} {what} for purpose {self.purpose!r}"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # The rule that decided: its name, "principals.<agency>.operator", or "" when none matched.
    rule: str
    reason: str


def _any(patterns: list[str], value: str | None, *, unknown_matches: bool) -> bool:
    """Whether `value` matches; an unknown value matches a "*" pattern whatever it is,
    and any other pattern only when `unknown_matches`."""
    if value is None:
        return unknown_matches or "*" in patterns
    return any(fnmatchcase(value, p) for p in patterns)


class Policy:
    def __init__(self, document: PolicyDocument, *, allow_all: str = "") -> None:
        self.document = document
        self._allow_all = allow_all

    @classmethod
    def allowing_all(cls, rule: str) -> Policy:
        """Every request allowed by `rule`: only for a hub run with --insecure and no policy."""
        return cls(PolicyDocument(version=1, principals={}), allow_all=rule)

    def decide(self, agency: str, request: Request) -> Decision:
        if self._allow_all:
            return Decision(True, self._allow_all, f"{self._allow_all} allows every request")
        entry = self.document.principals.get(agency)
        predicate_only = ""
        other_access = ""
        for rule in entry.rules if entry else []:
            deny = rule.effect == "deny"
            # While a field is unknown, a deny rule applies only when it covers every value.
            if not (
                _any(rule.chains, request.chain_id, unknown_matches=False)
                and _any(rule.purposes, request.purpose, unknown_matches=False)
                and _any(rule.namespaces, request.namespace, unknown_matches=not deny)
                and _any(rule.schemas, request.schema, unknown_matches=not deny)
            ):
                continue
            if deny:
                return Decision(
                    False,
                    rule.name,
                    f"rule {rule.name!r} denies {agency} to {request.describe()}",
                )
            if request.access == READ and rule.access == PREDICATE:
                predicate_only = rule.name
                continue
            if (request.access == WRITE) != (rule.access == WRITE):
                other_access = other_access or rule.name
                continue
            return Decision(
                True, rule.name, f"rule {rule.name!r} allows {agency} to {request.describe()}"
            )
        hint = f" (rule {predicate_only!r} allows yes/no predicates only)" if predicate_only else ""
        if other_access and not hint:
            hint = (
                f" (rule {other_access!r} does not allow writes; "
                "writing needs a rule with access: write)"
                if request.access == WRITE
                else f" (rule {other_access!r} allows writes only)"
            )
        return Decision(False, "", f"no rule allows {agency} to {request.describe()}{hint}")

    def operator(self, agency: str) -> Decision:
        rule = f"principals.{agency}.operator"
        if self._allow_all:
            return Decision(True, self._allow_all, f"{self._allow_all} allows every request")
        entry = self.document.principals.get(agency)
        if entry is None or not entry.operator:
            return Decision(
                False, "", f"no rule gives {agency} operator rights ({rule} is not true)"
            )
        if isinstance(entry.operator, OperatorRule):
            chains = ", ".join(entry.operator.chains)
            return Decision(
                True,
                entry.operator.name,
                f"rule {entry.operator.name!r} gives {agency} operator rights on {chains}",
            )
        return Decision(True, rule, f"{rule} is true")

    # Decide before the read: no answer may tell whether a record exists.

    def declared_schemas(self, chain_id: str, namespace: str) -> list[str] | None:
        """The schemas the policy declares for a namespace, or None when it declares none."""
        return self.document.namespace_schemas.get(f"{chain_id}/{namespace}")

    def decide_before_read(self, agency: str, request: Request) -> Decision | Undecided:
        """Decides a request whose record schema is not known yet: a Decision when it holds
        for every schema the namespace may hold, else the rules that turn on the schema.
        A decision that chain, namespace and purpose make alone never names a schema."""
        if self._allow_all or request.schema is not None:
            return self.decide(agency, request)
        turning, terminal = self._rules_before_schema(agency, request)
        effects = {rule.effect for rule in turning} | {terminal.effect if terminal else "deny"}
        if len(effects) == 1:
            return self.decide(agency, request)
        declared = self._declared(request)
        if declared:
            decisions = [self.decide(agency, replace(request, schema=s)) for s in declared]
            if all(d.allowed for d in decisions) or not any(d.allowed for d in decisions):
                return decisions[0]
            return Undecided(tuple(dict.fromkeys(d.rule for d in decisions if d.rule)))
        return Undecided(tuple(r.name for r in [*turning, *([terminal] if terminal else [])]))

    def allowing_rules(self, agency: str, request: Request) -> list[str]:
        """The allow rules that may decide `request` for some schema its record could have:
        before the read, the rules whose limits a predicate must meet, whatever the record."""
        if self._allow_all:
            return [self._allow_all]
        if request.schema is not None:
            decision = self.decide(agency, request)
            return [decision.rule] if decision.allowed else []
        declared = self._declared(request)
        if declared:
            decisions = [self.decide(agency, replace(request, schema=s)) for s in declared]
            return list(dict.fromkeys(d.rule for d in decisions if d.allowed))
        turning, terminal = self._rules_before_schema(agency, request)
        rules = [*turning, *([terminal] if terminal else [])]
        return [rule.name for rule in rules if rule.effect == "allow"]

    def _declared(self, request: Request) -> list[str] | None:
        if request.namespace is None:
            return None
        return self.declared_schemas(request.chain_id, request.namespace)

    def _rules_before_schema(self, agency: str, request: Request) -> tuple[list[Rule], Rule | None]:
        """The rules that may match `request` whatever its schema, in order: those that list
        schemas (whose outcome turns on the schema), and the first that matches any schema."""
        entry = self.document.principals.get(agency)
        turning: list[Rule] = []
        for rule in entry.rules if entry else []:
            if not (
                _any(rule.chains, request.chain_id, unknown_matches=False)
                and _any(rule.purposes, request.purpose, unknown_matches=False)
                and _any(rule.namespaces, request.namespace, unknown_matches=True)
            ):
                continue
            if rule.effect == "allow" and request.access == READ and rule.access == PREDICATE:
                continue
            if rule.effect == "allow" and (request.access == WRITE) != (rule.access == WRITE):
                continue
            if "*" in rule.schemas and (request.namespace is not None or "*" in rule.namespaces):
                return turning, rule
            turning.append(rule)
        return turning, None

    def predicate_limits(self, rule_name: str) -> RuleLimits | None:
        """The predicate limits of an allowing rule: its `predicates:` block, or
        DEFAULT_LIMITS when it has none; None when it says `predicates: unlimited` (or the
        hub allows everything, --insecure without a policy)."""
        for entry in self.document.principals.values():
            for rule in entry.rules:
                if rule.name != rule_name:
                    continue
                if isinstance(rule.predicates, PredicateLimits):
                    return RuleLimits(rule.name, rule.predicates, default=False)
                if rule.predicates is None:
                    return RuleLimits(rule.name, DEFAULT_LIMITS, default=True)
                return None  # predicates: unlimited
        return None

    def operator_scope(self, agency: str) -> OperatorScope | None:
        """The chains `agency` may operate; None when it has no operator rights."""
        decision = self.operator(agency)
        if not decision.allowed:
            return None
        entry = self.document.principals.get(agency)
        if entry is not None and isinstance(entry.operator, OperatorRule):
            return OperatorScope(agency, decision.rule, tuple(entry.operator.chains))
        return OperatorScope(agency, decision.rule, ("*",))


@dataclass(frozen=True)
class Undecided:
    """A request the policy decides only by the record's schema, unknown before the read:
    the rules whose outcome turns on it (the same for a record that exists or not)."""

    rules: tuple[str, ...]

    def refusal(self, agency: str, request: Request, what: str) -> str:
        """The one message for "forbidden" and "does not exist", so neither tells the other."""
        verb = "read" if request.access == READ else "evaluate predicates on"
        names = list(dict.fromkeys(self.rules))
        rules = ("rule " if len(names) == 1 else "rules ") + ", ".join(repr(r) for r in names)
        return (
            f"{agency} may not {verb} {what} for purpose {request.purpose!r}, or it does not "
            f"exist: {rules} decide{'s' if len(names) == 1 else ''} by the record's schema"
        )


@dataclass(frozen=True)
class OperatorScope:
    """The chains an operator may administer, and the rule that says so."""

    agency: str
    rule: str
    chains: tuple[str, ...]

    @property
    def everywhere(self) -> bool:
        return "*" in self.chains

    def covers(self, chain_id: str) -> bool:
        return any(fnmatchcase(chain_id, p) for p in self.chains)

    def require(self, chain_id: str, what: str) -> None:
        """PermissionDenied, naming the rule, unless `chain_id` is in scope."""
        if not self.covers(chain_id):
            raise PermissionDenied(
                f"rule {self.rule!r} lets {self.agency} operate chains "
                f"{list(self.chains)} only, not {chain_id[:80]!r} ({what})"
            )

    def require_everywhere(self, what: str) -> None:
        """PermissionDenied, naming the rule, unless the scope is every chain."""
        if not self.everywhere:
            raise PermissionDenied(
                f"rule {self.rule!r} lets {self.agency} operate chains {list(self.chains)} "
                f"only; {what} spans every chain and needs an operator rule for chains ['*']"
            )


class PolicySource(Protocol):
    """Where the hub gets the policy in force: a reloading file, or a fixed policy."""

    def current(self) -> Policy: ...


class FixedPolicy:
    def __init__(self, policy: Policy) -> None:
        self._policy = policy

    def current(self) -> Policy:
        return self._policy


def parse_policy(data: bytes, path: Path) -> Policy:
    """Parses and checks a policy file; InvalidInput says where it is wrong."""
    try:
        raw = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"policy file {path} is not YAML: {exc}") from exc
    try:
        document = PolicyDocument.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(_location(e['loc'])) or 'policy'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"policy file {path} is not a valid policy: {problems}") from exc
    seen: set[str] = set()
    for agency, entry in document.principals.items():
        if not agency or "/" in agency:
            raise InvalidInput(f"policy file {path}: principal {agency!r} must be an O= value")
        names = [entry.operator.name] if isinstance(entry.operator, OperatorRule) else []
        for name in [*names, *(rule.name for rule in entry.rules)]:
            if name in seen:
                raise InvalidInput(f"policy file {path}: rule name {name!r} is used twice")
            seen.add(name)
        for rule in entry.rules:
            _check_thresholds(rule, path)
            if rule.predicates == UNLIMITED and rule.effect == "allow":
                log.warning(
                    "policy file %s: rule %r allows yes/no questions without limits "
                    "(predicates: unlimited): a run of them can recover a value",
                    path,
                    rule.name,
                )
    for where, schemas in document.namespace_schemas.items():
        if where.count("/") != 1 or not all(where.split("/")) or not schemas:
            raise InvalidInput(
                f"policy file {path}: namespace_schemas key {where!r} must be 'chain/namespace' "
                "with at least one schema"
            )
    return Policy(document)


def _location(loc: tuple[int | str, ...]) -> list[str]:
    """A validation error's place in the file, without the union tags of `predicates:`."""
    return [
        str(part)
        for i, part in enumerate(loc)
        if not (i and loc[i - 1] == "predicates" and part in (_BLOCK, UNLIMITED))
    ]


def _check_thresholds(rule: Rule, path: Path) -> None:
    limits = rule.predicates if isinstance(rule.predicates, PredicateLimits) else None
    for field, values in (limits.thresholds or {}).items() if limits else ():
        for value in values:
            try:
                json.loads(value)
            except ValueError:
                raise InvalidInput(
                    f"policy file {path}: rule {rule.name!r} threshold {value!r} for {field!r} "
                    "is not JSON (quote strings: '\"2026-01-01\"')"
                ) from None
