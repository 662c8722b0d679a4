"""The development PKI and the per-call certificate checks, with their exact messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from hub import pki
from hub.authentication import Authenticator
from hub.errors import InvalidInput, Unauthenticated
from hub.principal import Principal


@pytest.fixture
def ca(tmp_path: Path) -> Path:
    folder = tmp_path / "pki"
    pki.init_ca(folder)
    return folder


def auth(ca: Path) -> Authenticator:
    return Authenticator.from_files(ca / pki.CA_CERT, ca / pki.CRL)


def test_init_and_issue(ca: Path) -> None:
    hub = pki.load_certificate(ca / "hub.crt")
    assert hub.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "hub"
    san = hub.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    issued = pki.issue(ca, "alice", org="market-regulator", role="agency")
    cert = pki.load_certificate(issued.cert)
    assert cert.serial_number == issued.serial
    assert oct(issued.key.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(InvalidInput, match="exists already"):
        pki.init_ca(ca)
    with pytest.raises(InvalidInput, match="role 'boss' must be one of agency, operator"):
        pki.issue(ca, "x", org="o", role="boss")


def test_valid_certificate_names_its_principal(ca: Path) -> None:
    issued = pki.issue(ca, "alice", org="market-regulator", role="operator")
    principal = auth(ca).authenticate(issued.cert.read_bytes())
    assert principal == Principal("market-regulator", "alice", "operator", f"{issued.serial:x}")
    assert principal.name == "market-regulator/alice" and principal.is_operator


def test_expired_and_not_yet_valid(ca: Path) -> None:
    issued = pki.issue(
        ca, "old", org="tax", role="agency", days=1, not_before=datetime(2020, 1, 1, tzinfo=UTC)
    )
    with pytest.raises(Unauthenticated) as err:
        auth(ca).authenticate(issued.cert.read_bytes())
    assert str(err.value) == (
        "client certificate 'CN=old,OU=agency,O=tax' expired at 2020-01-02T00:00:00+00:00"
    )
    future = pki.issue(
        ca, "new", org="tax", role="agency", not_before=datetime.now(UTC) + timedelta(days=1)
    )
    with pytest.raises(Unauthenticated, match="is not valid before"):
        auth(ca).authenticate(future.cert.read_bytes())


def test_other_ca_is_refused(ca: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    pki.init_ca(other, name="Other CA")
    foreign = pki.issue(other, "mallory", org="tax", role="agency")
    with pytest.raises(Unauthenticated) as err:
        auth(ca).authenticate(foreign.cert.read_bytes())
    assert str(err.value) == (
        "client certificate 'CN=mallory,OU=agency,O=tax' was not issued by a CA this hub "
        "trusts (issuer 'CN=Other CA,O=tonglian')"
    )


def test_revocation_is_picked_up_when_the_crl_changes(ca: Path) -> None:
    a = auth(ca)
    issued = pki.issue(ca, "carol", org="tax", role="agency")
    a.authenticate(issued.cert.read_bytes())
    serial = pki.revoke(ca, issued.cert)
    with pytest.raises(Unauthenticated, match=rf"\(serial {serial:x}\) was revoked on "):
        a.authenticate(issued.cert.read_bytes())


def test_crl_of_another_ca_is_refused(ca: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    pki.init_ca(other, name="Other CA")
    with pytest.raises(InvalidInput, match="is not signed by a trusted client CA"):
        Authenticator.from_files(ca / pki.CA_CERT, other / pki.CRL)


def test_subject_must_name_agency_role_and_client(ca: Path) -> None:
    hub = (ca / "hub.crt").read_bytes()  # OU=hub: not a client role
    with pytest.raises(
        Unauthenticated, match="has role OU='hub'; the hub accepts agency, operator"
    ):
        auth(ca).authenticate(hub)
    with pytest.raises(Unauthenticated, match="client certificate does not parse"):
        auth(ca).authenticate(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")


def test_a_checked_certificate_is_still_checked_for_time_and_no_other_rides_on_it(
    ca: Path, tmp_path: Path
) -> None:
    """The issuer signature is checked once per certificate; validity on every call, and a
    look-alike (same subject, another CA) is checked in full, never taken from the cache."""
    a = auth(ca)
    issued = pki.issue(ca, "dave", org="tax", role="agency", days=1)
    pem = issued.cert.read_bytes()
    assert a.authenticate(pem).name == "tax/dave"
    later = datetime.now(UTC) + timedelta(days=2)
    with pytest.raises(Unauthenticated, match="'CN=dave,OU=agency,O=tax' expired at "):
        a.authenticate(pem, now=later)
    other = tmp_path / "other"
    pki.init_ca(other, name="Other CA")
    twin = pki.issue(other, "dave", org="tax", role="agency")
    with pytest.raises(Unauthenticated, match="was not issued by a CA this hub trusts"):
        a.authenticate(twin.cert.read_bytes())
    assert a.authenticate(pem).name == "tax/dave"
