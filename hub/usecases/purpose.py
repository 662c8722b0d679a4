"""The purpose of a read: checked here, and only here, before it is written to the audit log.

A purpose is the caller's stated reason for a read (e.g. 'business-registration'); the
audit event carries it once it has passed these checks, never the raw request field.
"""

from __future__ import annotations

from hub.errors import InvalidInput
from hub.usecases.audit_record import AuditRecord

MAX_PURPOSE = 200


def check_purpose(purpose: str) -> None:
    if not purpose.strip():
        raise InvalidInput(
            "purpose is required: say why the record is read, e.g. 'business-registration' "
            "(it is written to the audit log)"
        )
    if len(purpose) > MAX_PURPOSE:
        raise InvalidInput(f"purpose is longer than {MAX_PURPOSE} characters")
    if any(ord(c) < 0x20 for c in purpose):
        raise InvalidInput("purpose contains control characters")


def declare_purpose(audit: AuditRecord, purpose: str) -> str:
    """Checks `purpose` and records it on the call's audit event; returns it."""
    check_purpose(purpose)
    audit.purpose = purpose
    return purpose
