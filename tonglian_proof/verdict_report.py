"""The lines a reader is shown for a bundle's verdict: which facts rest on trust the reader
gave, and which only on what the bundle carries about itself.

A bundle that is merely consistent proves that it agrees with the anchors it carries,
which anyone can make; a signature proves that it matches the certificate beside it,
which anyone can issue. So a fact is marked checked (✓) only when something the reader
chose anchors the verdict, the rest are marked "·" and say so ("(not anchored)"), and
the hub that signed is named as the signer only when a hub key the reader gave checked
it. Wording only: the verifiers' own check texts are reused, never re-decided here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

CHECKED = "✓"
UNCHECKED = "·"
NOT_ANCHORED = "not anchored"
# Lines a verifier adds that state no fact anyone relies on (an unsigned flag, signatures
# set aside): never shown as checked, whatever anchors the verdict.
NOTES = (
    "(unsigned; not relied on)",
    "ignored signatures by validators not in the anchor",
    "repeated signatures counted once",
)
# Words of a check that name the reader's trust, and what they become when the verdict
# rests on the bundle's own material.
_OWN_MATERIAL = (("equals the trusted block hash", "equals the block hash the bundle carries"),)


@dataclass(frozen=True)
class ReportLine:
    """One fact of the verdict; `checked` when trust the reader gave stands behind it."""

    checked: bool
    text: str

    def __str__(self) -> str:
        return f"{CHECKED if self.checked else UNCHECKED} {self.text}"


def proof_lines(checks: Sequence[str], anchored: bool) -> list[ReportLine]:
    """The proof's and the digest's checks: checked under an anchored verdict, else each
    labelled as resting on what the bundle carries."""
    lines: list[ReportLine] = []
    for check in checks:
        if any(note in check for note in NOTES):
            lines.append(ReportLine(False, check))
        elif anchored:
            lines.append(ReportLine(True, check))
        else:
            lines.append(ReportLine(False, _not_anchored(check)))
    return lines


def _not_anchored(check: str) -> str:
    for trusted, own in _OWN_MATERIAL:
        check = check.replace(trusted, own)
    if check.startswith("trust anchor: "):
        check = "trust anchor the bundle carries: " + check.removeprefix("trust anchor: ")
    opening = _opening_of_last_aside(check)
    if opening > 0 and check[opening - 1] == " ":
        return f"{check[:-1]}; {NOT_ANCHORED})"
    return f"{check} ({NOT_ANCHORED})"


def _opening_of_last_aside(text: str) -> int:
    """Where the parenthesis closing `text` opens ("… (a, b)"), or -1: the label joins an
    aside the check ends with rather than adding a second one."""
    if not text.endswith(")"):
        return -1
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(text[i], 0)
        if depth == 0:
            return i
    return -1


def signature_lines(signer: str, *, keys_given: bool, trusted_how: str | None) -> list[ReportLine]:
    """The hub signature's lines: the signer is named as such only when a hub key the reader
    gave checked it (`trusted_how` says how); otherwise the certificate merely names it."""
    if not signer:
        return []
    if trusted_how is not None:
        return [
            ReportLine(True, f"hub signature by {signer} over the bundle digest is intact"),
            ReportLine(True, trusted_how),
        ]
    if keys_given:
        return [
            ReportLine(
                False,
                f"signed by a certificate that names {signer} (not checked: it is not a hub "
                "key you gave)",
            )
        ]
    return [
        ReportLine(
            False, f"signed by a certificate that names {signer} (not checked: give --hub-key)"
        )
    ]
