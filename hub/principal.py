"""Who is calling: the principal a client certificate names.

The subject of a client certificate is read as
    O  = the agency (the principal that policy rules are written for),
    OU = the role: "agency" (may query) or "operator" (may also register chains,
         manage routes and read the audit log, when the policy grants it),
    CN = the client inside the agency (a person or a system), for the audit log.
Each of the three must appear exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from hub.errors import Unauthenticated

AGENCY = "agency"
OPERATOR = "operator"
ROLES = frozenset({AGENCY, OPERATOR})


@dataclass(frozen=True)
class Principal:
    agency: str
    client: str
    role: str
    # Certificate serial number, hex; empty when the hub runs --insecure.
    serial: str = ""

    @property
    def name(self) -> str:
        """How the audit log names the caller: agency/client."""
        return f"{self.agency}/{self.client}"

    @property
    def is_operator(self) -> bool:
        return self.role == OPERATOR


# The caller of every call when the hub runs --insecure (no certificates).
INSECURE = Principal(agency="anonymous", client="insecure", role=OPERATOR)
# The hub itself, for what it does on its own (deliveries, anchors, reloads).
HUB = "hub"


def _one(cert: x509.Certificate, oid: x509.ObjectIdentifier, what: str) -> str:
    values = cert.subject.get_attributes_for_oid(oid)
    if len(values) != 1 or not isinstance(values[0].value, str) or not values[0].value:
        raise Unauthenticated(
            f"client certificate subject {cert.subject.rfc4514_string()!r} must have exactly "
            f"one {what}"
        )
    return values[0].value


def principal_of(cert: x509.Certificate) -> Principal:
    """The principal a client certificate names; Unauthenticated when the subject is unusable."""
    agency = _one(cert, NameOID.ORGANIZATION_NAME, "O= (the agency)")
    role = _one(cert, NameOID.ORGANIZATIONAL_UNIT_NAME, "OU= (the role)")
    client = _one(cert, NameOID.COMMON_NAME, "CN= (the client)")
    if role not in ROLES:
        raise Unauthenticated(
            f"client certificate of {agency}/{client} has role OU={role!r}; "
            f"the hub accepts {', '.join(sorted(ROLES))}"
        )
    return Principal(agency, client, role, format(cert.serial_number, "x"))
