"""The HTTP listener's handshake leaves certificate dates to the request check; the
issuing CA's own dates are checked there too (hub/observability/listener_access.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from hub import pki
from hub.observability.listener_access import issued_by_a_valid_ca


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_a_certificate_counts_only_while_its_ca_is_within_its_dates(tmp_path: Path) -> None:
    pki.init_ca(tmp_path / "ca", days=2)
    ca = _load(tmp_path / "ca" / pki.CA_CERT)
    leaf = _load(pki.issue(tmp_path / "ca", "alice", org="market-regulator", role="agency").cert)
    assert issued_by_a_valid_ca(leaf, [ca], datetime.now(UTC))
    assert not issued_by_a_valid_ca(leaf, [ca], ca.not_valid_after_utc + timedelta(seconds=1))
    assert not issued_by_a_valid_ca(leaf, [ca], ca.not_valid_before_utc - timedelta(seconds=1))


def test_a_ca_of_the_same_name_that_did_not_sign_it_does_not_count(tmp_path: Path) -> None:
    pki.init_ca(tmp_path / "one")
    pki.init_ca(tmp_path / "two")  # same subject, another key
    other = _load(tmp_path / "two" / pki.CA_CERT)
    leaf = _load(pki.issue(tmp_path / "one", "alice", org="market-regulator", role="agency").cert)
    assert other.subject == leaf.issuer
    assert not issued_by_a_valid_ca(leaf, [other], datetime.now(UTC))
    assert issued_by_a_valid_ca(
        leaf, [other, _load(tmp_path / "one" / pki.CA_CERT)], datetime.now(UTC)
    )
