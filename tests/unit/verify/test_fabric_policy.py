"""Signature-policy parser and evaluator (tonglian_proof/verify/fabric/policy.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tonglian_proof.verify.fabric.policy import (
    ImplicitMetaPolicy,
    OutOf,
    PolicyGroup,
    PolicySyntaxError,
    RolePrincipal,
    SignedBy,
    evaluate,
    parse_policy_text,
    parse_signature_policy,
)


@dataclass(frozen=True)
class FakeSigner:
    """A verified identity as the evaluator sees it (no crypto involved at this layer)."""

    msp_id: str
    role: str
    cert_der: bytes = b""
    ous: frozenset[str] = frozenset()

    def has_role(self, role: str) -> bool:
        return role in ("member", self.role)

    def describe(self) -> str:
        return f"{self.msp_id} {self.role}"


def s(msp: str, role: str = "peer", n: int = 0) -> FakeSigner:
    return FakeSigner(msp, role, f"{msp}-{role}-{n}".encode())


def test_parse_and_or_nested() -> None:
    p = parse_signature_policy("AND('Org1MSP.peer', OR('Org2MSP.peer',\"Org3MSP.admin\"))")
    assert p.rule == OutOf(
        2,
        (
            SignedBy(RolePrincipal("Org1MSP", "peer")),
            OutOf(
                1,
                (
                    SignedBy(RolePrincipal("Org2MSP", "peer")),
                    SignedBy(RolePrincipal("Org3MSP", "admin")),
                ),
            ),
        ),
    )
    assert p.text() == "AND('Org1MSP.peer',OR('Org2MSP.peer','Org3MSP.admin'))"


def test_parse_outof_and_case_and_dotted_msp() -> None:
    p = parse_signature_policy("outof('2', 'A.peer', 'B.peer', and('my.org-1.member', 'C.client'))")
    assert isinstance(p.rule, OutOf) and p.rule.n == 2 and len(p.rule.rules) == 3
    inner = p.rule.rules[2]
    assert isinstance(inner, OutOf) and inner.rules[0] == SignedBy(
        RolePrincipal("my.org-1", "member")
    )


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("AND('A.peer'", 12, "close AND"),
        ("AND('A.peer',)", 13, "quoted principal"),
        ("XOR('A.peer')", 0, "unknown operator"),
        ("AND('A.boss')", 4, "MSPID.role"),
        ("OutOf(3, 'A.peer', 'B.peer')", 6, "between 1 and"),
        ("OutOf('A.peer')", 6, "count"),
        ("AND('A.peer') junk", 14, "end of policy"),
        ("AND('A.peer", 4, "unterminated"),
        ("AND{'A.peer'}", 3, "unexpected character"),
        ("AND 'A.peer'", 4, "'(' after AND"),
        ("", 0, "found end of text"),
    ],
)
def test_syntax_errors_name_position(text: str, position: int, words: str) -> None:
    with pytest.raises(PolicySyntaxError) as err:
        parse_signature_policy(text)
    assert err.value.position == position
    assert words in str(err.value)
    assert f"at position {position}" in str(err.value)


def test_policy_text_forms() -> None:
    assert (
        parse_policy_text("/Channel/Application/Endorsement") == "/Channel/Application/Endorsement"
    )
    assert parse_policy_text("ImplicitMeta MAJORITY Endorsement") == ImplicitMetaPolicy(
        "MAJORITY", "Endorsement"
    )
    with pytest.raises(PolicySyntaxError):
        parse_policy_text("ImplicitMeta MOST Endorsement")


def ev(text: str, *signers: FakeSigner) -> bool:
    return evaluate(parse_signature_policy(text), None, signers).satisfied


def test_evaluate_and_or_outof() -> None:
    assert ev("AND('A.peer','B.peer')", s("A"), s("B"))
    assert not ev("AND('A.peer','B.peer')", s("A"))
    assert not ev("AND('A.peer','B.peer')", s("A"), s("B", "client"))
    assert ev("OR('A.peer','B.peer')", s("B"))
    assert ev("OutOf(2,'A.peer','B.peer','C.peer')", s("C"), s("A"))
    assert not ev("OutOf(2,'A.peer','B.peer','C.peer')", s("C"))
    assert ev("AND('A.member', OR('B.peer', 'C.admin'))", s("A", "client"), s("C", "admin"))


def test_one_signer_counts_once() -> None:
    # The same identity twice (a duplicated endorsement) does not satisfy two principals.
    assert not ev("AND('A.peer','A.peer')", s("A"), s("A"))
    assert ev("AND('A.peer','A.peer')", s("A", n=1), s("A", n=2))


def test_greedy_like_fabric() -> None:
    # cauthdsl is greedy: 'A.member' takes the peer first, leaving nobody for 'A.peer'.
    assert not ev("AND('A.member','A.peer')", s("A", "peer", 1), s("A", "client", 2))
    assert ev("AND('A.peer','A.member')", s("A", "peer", 1), s("A", "client", 2))


def _group(n_orgs: int) -> PolicyGroup:
    app = PolicyGroup("/Channel/Application")
    for i in range(n_orgs):
        org = PolicyGroup(f"/Channel/Application/O{i}")
        org.policies["Endorsement"] = parse_signature_policy(f"OR('O{i}.peer')")
        app.groups[f"O{i}"] = org
    return app


@pytest.mark.parametrize(
    ("rule", "orgs", "signing", "ok"),
    [
        ("ANY", 3, 1, True),
        ("ANY", 3, 0, False),
        ("MAJORITY", 3, 2, True),
        ("MAJORITY", 3, 1, False),
        ("MAJORITY", 2, 1, False),
        ("MAJORITY", 4, 2, False),
        ("MAJORITY", 4, 3, True),
        ("ALL", 3, 2, False),
        ("ALL", 3, 3, True),
        ("MAJORITY", 0, 0, True),
    ],
)
def test_implicit_meta(rule: str, orgs: int, signing: int, ok: bool) -> None:
    signers = [s(f"O{i}") for i in range(signing)]
    out = evaluate(ImplicitMetaPolicy(rule, "Endorsement"), _group(orgs), signers)
    assert out.satisfied is ok
    assert f"ImplicitMeta {rule} Endorsement" in out.detail
