"""Fabric policies: the signature-policy language, ImplicitMeta, and their evaluation.

Evaluation follows Fabric's `cauthdsl` exactly, because a verdict that differs from
the peers' would be wrong either way: signers are de-duplicated by identity, each
signer satisfies at most one principal, `OutOf` tries its rules in order and keeps
the signers a satisfied rule consumed (greedy, no backtracking). ImplicitMeta
policies count the named sub-policy of every child group (ANY = 1, ALL = all,
MAJORITY = more than half; no children means 0 are needed).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tonglian_proof.errors import MalformedInput
from tonglian_proof.verify.fabric import protos
from tonglian_proof.verify.fabric.msp import parse_serialized_identity
from tonglian_proof.verify.verified_cache import VerifiedCache

ROLES = ("member", "admin", "client", "peer", "orderer")
# MSPRole.MSPRoleType numbers, in proto order.
_ROLE_BY_NUMBER = dict(enumerate(ROLES))


class Signer(Protocol):
    """A verified identity, as a policy sees it."""

    @property
    def msp_id(self) -> str: ...
    @property
    def cert_der(self) -> bytes: ...
    @property
    def ous(self) -> frozenset[str]: ...
    def has_role(self, role: str) -> bool: ...
    def describe(self) -> str: ...


@dataclass(frozen=True)
class RolePrincipal:
    """`'MSP.role'`: a valid identity of the MSP holding that role."""

    msp_id: str
    role: str

    def text(self) -> str:
        return f"'{self.msp_id}.{self.role}'"

    def satisfied_by(self, signer: Signer) -> bool:
        return signer.msp_id == self.msp_id and signer.has_role(self.role)


@dataclass(frozen=True)
class IdentityPrincipal:
    """One exact certificate of an MSP."""

    msp_id: str
    cert_der: bytes

    def text(self) -> str:
        return f"'{self.msp_id}.identity'"

    def satisfied_by(self, signer: Signer) -> bool:
        return signer.msp_id == self.msp_id and signer.cert_der == self.cert_der


@dataclass(frozen=True)
class OuPrincipal:
    """An identity of the MSP whose certificate carries the organisational unit."""

    msp_id: str
    ou: str

    def text(self) -> str:
        return f"'{self.msp_id}.OU={self.ou}'"

    def satisfied_by(self, signer: Signer) -> bool:
        return signer.msp_id == self.msp_id and self.ou in signer.ous


@dataclass(frozen=True)
class UnsupportedPrincipal:
    """A principal kind this verifier cannot judge (anonymity, combined): never satisfied."""

    kind: int

    def text(self) -> str:
        return f"'<unsupported principal kind {self.kind}>'"

    def satisfied_by(self, signer: Signer) -> bool:
        return False


Principal = RolePrincipal | IdentityPrincipal | OuPrincipal | UnsupportedPrincipal


@dataclass(frozen=True)
class SignedBy:
    principal: Principal


@dataclass(frozen=True)
class OutOf:
    n: int
    rules: tuple[Rule, ...]


Rule = SignedBy | OutOf


def _rule_text(rule: Rule) -> str:
    if isinstance(rule, SignedBy):
        return rule.principal.text()
    inner = ",".join(_rule_text(r) for r in rule.rules)
    if rule.n == len(rule.rules) and len(rule.rules) > 1:
        return f"AND({inner})"
    if rule.n == 1:
        return f"OR({inner})"
    return f"OutOf({rule.n},{inner})"


@dataclass(frozen=True)
class SignaturePolicy:
    """An explicit signature policy (text or SignaturePolicyEnvelope)."""

    rule: Rule
    # The policy in Fabric's syntax, built once (cached_property takes a lock per read).
    _text: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_text", _rule_text(self.rule))

    def text(self) -> str:
        return self._text


@dataclass(frozen=True)
class ImplicitMetaPolicy:
    """`ImplicitMeta RULE SubPolicy`, evaluated over the child groups of its group."""

    rule: str  # ANY, ALL or MAJORITY
    sub_policy: str

    def text(self) -> str:
        return f"ImplicitMeta {self.rule} {self.sub_policy}"


@dataclass(frozen=True)
class UnsupportedPolicy:
    """A policy type this verifier cannot evaluate; it is never satisfied."""

    description: str

    def text(self) -> str:
        return self.description


Policy = SignaturePolicy | ImplicitMetaPolicy | UnsupportedPolicy


@dataclass
class PolicyGroup:
    """The policies of one config group and its children (`/Channel/Application/...`)."""

    path: str
    policies: dict[str, Policy] = field(default_factory=dict)
    groups: dict[str, PolicyGroup] = field(default_factory=dict)
    _found: dict[str, tuple[PolicyGroup, Policy] | None] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def find(self, path: str) -> tuple[PolicyGroup, Policy] | None:
        """Resolve an absolute policy path such as `/Channel/Orderer/BlockValidation`
        (remembered per path: a channel config's policy tree does not change once built)."""
        if path in self._found:
            return self._found[path]
        found = self._find(path)
        if len(self._found) < 256:
            self._found[path] = found
        return found

    def _find(self, path: str) -> tuple[PolicyGroup, Policy] | None:
        parts = [p for p in path.split("/") if p]
        if len(parts) < 2 or "/" + parts[0] != self.path:
            return None
        group = self
        for name in parts[1:-1]:
            child = group.groups.get(name)
            if child is None:
                return None
            group = child
        policy = group.policies.get(parts[-1])
        return None if policy is None else (group, policy)

    def group_at(self, path: str) -> PolicyGroup | None:
        """The group at an absolute path such as `/Channel/Application`."""
        parts = [p for p in path.split("/") if p]
        if not parts or "/" + parts[0] != self.path:
            return None
        group: PolicyGroup | None = self
        for name in parts[1:]:
            group = None if group is None else group.groups.get(name)
        return group

    def all_policies(self) -> dict[str, Policy]:
        """Every policy of the tree by absolute path, for display."""
        out = {f"{self.path}/{name}": p for name, p in self.policies.items()}
        for child in self.groups.values():
            out.update(child.all_policies())
        return out


# --------------------------------------------------------------------------- parsing


class PolicySyntaxError(MalformedInput):
    """A signature-policy string that does not parse; `position` is the 0-based offset."""

    def __init__(self, message: str, text: str, position: int) -> None:
        super().__init__(f"policy syntax error at position {position}: {message} in {text!r}")
        self.position = position


_TOKEN = re.compile(
    r"\s*(?:(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<num>\d+)|(?P<str>'[^']*'|\"[^\"]*\")|(?P<punct>[(),]))"
)
_PRINCIPAL = re.compile(r"^([A-Za-z0-9.\-_]+)\.(member|admin|client|peer|orderer)$")


@dataclass(frozen=True)
class _Tok:
    kind: str
    value: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        m = _TOKEN.match(text, i)
        if m is None or m.lastgroup is None:
            if text[i] in "'\"":
                raise PolicySyntaxError("unterminated quoted principal", text, i)
            raise PolicySyntaxError(f"unexpected character {text[i]!r}", text, i)
        start = m.start(m.lastgroup)
        toks.append(_Tok(m.lastgroup, m.group(m.lastgroup), start))
        i = m.end()
    toks.append(_Tok("end", "", len(text)))
    return toks


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self, kind: str, value: str | None = None, what: str = "") -> _Tok:
        tok = self.peek()
        if tok.kind != kind or (value is not None and tok.value != value):
            found = "end of text" if tok.kind == "end" else repr(tok.value)
            raise PolicySyntaxError(
                f"expected {what or value or kind}, found {found}", self.text, tok.pos
            )
        self.i += 1
        return tok

    def rule(self) -> Rule:
        tok = self.peek()
        if tok.kind == "str":
            self.i += 1
            return SignedBy(self.principal(tok))
        if tok.kind != "ident":
            found = "end of text" if tok.kind == "end" else repr(tok.value)
            raise PolicySyntaxError(
                f"expected AND, OR, OutOf or a quoted principal, found {found}", self.text, tok.pos
            )
        op = tok.value.lower()
        if op not in ("and", "or", "outof"):
            raise PolicySyntaxError(
                f"unknown operator {tok.value!r} (use AND, OR or OutOf)", self.text, tok.pos
            )
        self.i += 1
        self.take("punct", "(", f"'(' after {tok.value}")
        n: int | None = None
        n_pos = self.peek().pos
        if op == "outof":
            ntok = self.peek()
            if ntok.kind == "num":
                n = int(ntok.value)
            elif ntok.kind == "str" and ntok.value[1:-1].isdigit():
                n = int(ntok.value[1:-1])
            else:
                raise PolicySyntaxError(
                    "OutOf needs a count as first argument", self.text, ntok.pos
                )
            self.i += 1
            self.take("punct", ",", "',' after the OutOf count")
        rules = [self.rule()]
        while self.peek().kind == "punct" and self.peek().value == ",":
            self.i += 1
            rules.append(self.rule())
        self.take("punct", ")", f"',' or ')' to close {tok.value}")
        if op == "and":
            n = len(rules)
        elif op == "or":
            n = 1
        assert n is not None
        if not 1 <= n <= len(rules):
            raise PolicySyntaxError(
                f"OutOf count {n} must be between 1 and the number of rules ({len(rules)})",
                self.text,
                n_pos,
            )
        return OutOf(n, tuple(rules))

    def principal(self, tok: _Tok) -> RolePrincipal:
        body = tok.value[1:-1]
        m = _PRINCIPAL.match(body)
        if m is None:
            raise PolicySyntaxError(
                f"principal {body!r} is not 'MSPID.role' with role one of {', '.join(ROLES)}",
                self.text,
                tok.pos,
            )
        return RolePrincipal(m.group(1), m.group(2))


def parse_signature_policy(text: str) -> SignaturePolicy:
    """Parse Fabric's signature-policy syntax, e.g. `OutOf(2,'A.peer',AND('B.peer','C.admin'))`."""
    parser = _Parser(text)
    rule = parser.rule()
    parser.take("end", what="end of policy")
    return SignaturePolicy(rule)


_IMPLICIT_RULES = ("ANY", "ALL", "MAJORITY")


def parse_policy_text(text: str) -> Policy | str:
    """Parse an operator-given policy: signature syntax, `ImplicitMeta RULE Sub`, or a
    `/Channel/...` reference (returned as the path string, resolved against the config)."""
    stripped = text.strip()
    if stripped.startswith("/"):
        if not re.fullmatch(r"(/[A-Za-z0-9_.\-]+){2,}", stripped):
            raise PolicySyntaxError("malformed policy reference", text, 0)
        return stripped
    parts = stripped.split()
    if parts and parts[0] == "ImplicitMeta":
        if len(parts) != 3 or parts[1] not in _IMPLICIT_RULES:
            raise PolicySyntaxError("expected 'ImplicitMeta ANY|ALL|MAJORITY SubPolicy'", text, 0)
        return ImplicitMetaPolicy(parts[1], parts[2])
    return parse_signature_policy(text)


# --------------------------------------------------------------------------- protos


def _principal_from_proto(p: Any) -> Principal:
    kind = int(p.principal_classification)
    if kind == protos.msp_principal.MSPPrincipal.ROLE:
        role = protos.msp_principal.MSPRole.FromString(p.principal)
        name = _ROLE_BY_NUMBER.get(int(role.role))
        if name is None:
            return UnsupportedPrincipal(kind)
        return RolePrincipal(str(role.msp_identifier), name)
    if kind == protos.msp_principal.MSPPrincipal.IDENTITY:
        msp_id, der = parse_serialized_identity(bytes(p.principal))
        return IdentityPrincipal(msp_id, der)
    if kind == protos.msp_principal.MSPPrincipal.ORGANIZATION_UNIT:
        ou = protos.msp_principal.OrganizationUnit.FromString(p.principal)
        return OuPrincipal(str(ou.msp_identifier), str(ou.organizational_unit_identifier))
    return UnsupportedPrincipal(kind)


def _rule_from_proto(rule: Any, principals: Sequence[Principal], depth: int = 0) -> Rule:
    if depth > 64:
        raise MalformedInput("signature policy nested more than 64 levels")
    which = rule.WhichOneof("Type")
    if which == "signed_by":
        idx = int(rule.signed_by)
        if not 0 <= idx < len(principals):
            raise MalformedInput(f"signature policy refers to identity {idx} of {len(principals)}")
        return SignedBy(principals[idx])
    if which == "n_out_of":
        rules = tuple(_rule_from_proto(r, principals, depth + 1) for r in rule.n_out_of.rules)
        return OutOf(int(rule.n_out_of.n), rules)
    raise MalformedInput("signature policy rule with neither signed_by nor n_out_of")


def signature_policy_from_envelope(envelope: Any) -> SignaturePolicy:
    """Convert a `common.SignaturePolicyEnvelope` message."""
    principals = [_principal_from_proto(p) for p in envelope.identities]
    return SignaturePolicy(_rule_from_proto(envelope.rule, principals))


def policy_from_proto(policy: Any) -> Policy:
    """Convert a `common.Policy` (as stored in config groups)."""
    ptype = int(policy.type)
    try:
        if ptype == protos.policies.Policy.SIGNATURE:
            env = protos.policies.SignaturePolicyEnvelope.FromString(policy.value)
            return signature_policy_from_envelope(env)
        if ptype == protos.policies.Policy.IMPLICIT_META:
            meta = protos.policies.ImplicitMetaPolicy.FromString(policy.value)
            rule = protos.policies.ImplicitMetaPolicy.Rule.Name(int(meta.rule))
            return ImplicitMetaPolicy(str(rule), str(meta.sub_policy))
    except Exception as exc:  # malformed protobuf or enum value
        if isinstance(exc, MalformedInput):
            raise
        raise MalformedInput(f"malformed policy of type {ptype}: {exc}") from exc
    return UnsupportedPolicy(f"<unsupported policy type {ptype}>")


# --------------------------------------------------------------------------- evaluation


def _dedup(signers: Sequence[Signer]) -> list[Signer]:
    seen: set[tuple[str, bytes]] = set()
    out: list[Signer] = []
    for s in signers:
        key = (s.msp_id, s.cert_der)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def _eval_rule(rule: Rule, signers: Sequence[Signer], used: list[bool]) -> bool:
    if isinstance(rule, SignedBy):
        for i, s in enumerate(signers):
            if not used[i] and rule.principal.satisfied_by(s):
                used[i] = True
                return True
        return False
    verified = 0
    for sub in rule.rules:
        trial = list(used)
        if _eval_rule(sub, signers, trial):
            verified += 1
            used[:] = trial
    return verified >= rule.n


@dataclass(frozen=True)
class Outcome:
    """Whether a policy was satisfied, and a sentence saying how or why not."""

    satisfied: bool
    detail: str


def _satisfied(policy: Policy, group: PolicyGroup | None, unique: Sequence[Signer]) -> bool:
    if isinstance(policy, SignaturePolicy):
        return _eval_rule(policy.rule, unique, [False] * len(unique))
    if isinstance(policy, UnsupportedPolicy) or group is None:
        return False
    met = 0
    for child in group.groups.values():
        sub = child.policies.get(policy.sub_policy)
        if sub is not None and _satisfied(sub, child, unique):
            met += 1
    total = len(group.groups)
    need = {"ANY": 1, "ALL": total, "MAJORITY": total // 2 + 1}.get(policy.rule, total + 1)
    return met >= (need if total else 0)


# Verdicts by (policy, group, signers): the same few endorsers and orderers satisfy the
# same policies on every record. Entries hold the policy and group objects themselves,
# so their ids cannot be reused by other objects while the entry lives; a signer is
# named by its MSP, certificate and description (which carries its roles).
_verdicts: VerifiedCache[tuple[Policy, PolicyGroup | None, Outcome]] = VerifiedCache(
    4096, signatures=False
)


def evaluate(policy: Policy, group: PolicyGroup | None, signers: Sequence[Signer]) -> Outcome:
    """Evaluate `policy` (defined in `group`) against already verified signers."""
    key = (id(policy), id(group), tuple((s.msp_id, s.cert_der, s.describe()) for s in signers))
    hit = _verdicts.get(key)
    if hit is not None and hit[0] is policy and hit[1] is group:
        return hit[2]
    outcome = _evaluate(policy, group, signers)
    _verdicts.put(key, (policy, group, outcome))
    return outcome


def _evaluate(policy: Policy, group: PolicyGroup | None, signers: Sequence[Signer]) -> Outcome:
    unique = _dedup(signers)
    if isinstance(policy, SignaturePolicy):
        ok = _eval_rule(policy.rule, unique, [False] * len(unique))
        who = ", ".join(s.describe() for s in unique) or "nobody"
        verb = "satisfied" if ok else "not satisfied"
        return Outcome(ok, f"{policy.text()} {verb} by {who}")
    if isinstance(policy, UnsupportedPolicy):
        return Outcome(False, f"{policy.text()} cannot be evaluated")
    if group is None:
        return Outcome(False, f"{policy.text()} has no config group to refer to")
    children = sorted(group.groups.items())
    met: list[str] = []
    unmet: list[str] = []
    for name, child in children:
        sub = child.policies.get(policy.sub_policy)
        label = f"{name}/{policy.sub_policy}"
        if sub is not None and _satisfied(sub, child, unique):
            met.append(label)
        else:
            unmet.append(label)
    total = len(children)
    need = {"ANY": 1, "ALL": total, "MAJORITY": total // 2 + 1}.get(policy.rule, total + 1)
    if total == 0:
        need = 0
    ok = len(met) >= need
    verb = "satisfied" if ok else "not satisfied"
    detail = (
        f"{policy.text()} at {group.path} {verb}: needs {need} of {total}, "
        f"met by [{', '.join(met)}], not met by [{', '.join(unmet)}]"
    )
    return Outcome(ok, detail)


def resolve(
    policy_or_path: Policy | str, root: PolicyGroup, default_group: str
) -> tuple[Policy, PolicyGroup | None]:
    """Find the policy a reference names, or place an inline policy in `default_group`.

    An inline ImplicitMeta policy given by an operator refers to the children of
    `default_group` (the Application group for endorsement policies).
    """
    if isinstance(policy_or_path, str):
        found = root.find(policy_or_path)
        if found is None:
            raise MalformedInput(f"policy {policy_or_path} is not in the channel config")
        group, policy = found
        return policy, group
    return policy_or_path, root.group_at(default_group)


def policy_text(policy_or_path: Policy | str) -> str:
    """Display form of a policy or of a policy reference."""
    return policy_or_path if isinstance(policy_or_path, str) else policy_or_path.text()
