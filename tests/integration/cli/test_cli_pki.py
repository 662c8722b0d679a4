"""`tonglian pki` refuses what would make an unusable certificate or overwrite the CA's files.

Issue 27 (smaller items): `pki issue NAME --days -1` printed a traceback and exited 1.
Every bad validity or name is now one line on stderr, exit code 2 (unusable input, as
README.md documents), and nothing is written.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hub.cli import exit_codes
from tests.integration.cli.runner import Cli

pytestmark = pytest.mark.integration

RANGE = "a certificate must be valid for more than 0 and at most 36500 days"


@pytest.fixture
def pki_cli(tmp_path: Path) -> Cli:
    """`tonglian` in the test's folder, with a development CA in ./pki."""
    run = Cli(dict(os.environ), tmp_path)
    run("pki", "init", "--dir", "pki", "--json")
    return run


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ("-1", f"validity of -1 days: {RANGE}"),
        ("0", f"validity of 0 days: {RANGE}"),
        ("36501", f"validity of 36501 days: {RANGE}"),
        ("1e9", f"validity of 1e+09 days: {RANGE}"),
        ("nan", f"validity of nan days: {RANGE}"),
        ("inf", f"validity of inf days: {RANGE}"),
        (
            "0.001",
            "validity of 0.001 days: a new certificate starts 5 minutes back (for late "
            "clocks), so it would have expired when issued",
        ),
    ],
)
def test_issue_refuses_a_validity_no_certificate_can_have(
    pki_cli: Cli, tmp_path: Path, days: str, message: str
) -> None:
    result = pki_cli(
        "pki", "issue", "alice", "--org", "tax", "--dir", "pki", f"--days={days}",
        check=exit_codes.USAGE,
    )  # fmt: skip
    assert (result.stdout, result.stderr) == ("", f"tonglian: {message}\n")
    assert not (tmp_path / "pki" / "alice.crt").exists()
    assert not (tmp_path / "pki" / "alice.key").exists()


@pytest.mark.parametrize(
    ("name", "org", "message"),
    [
        (
            "../alice",
            "tax",
            "certificate name '../alice' must be 1 to 64 letters, digits, '-', '_' or '.', "
            "not starting with '.'",
        ),
        (
            "a" * 65,
            "tax",
            f"certificate name '{'a' * 65}' must be 1 to 64 letters, digits, '-', '_' or '.', "
            "not starting with '.'",
        ),
        ("ca", "tax", "certificate name 'ca' is taken: ca.crt and ca.key are the CA's own files"),
        (
            "hub",
            "tax",
            "certificate name 'hub' is taken: hub.crt and hub.key are the hub's own files",
        ),
        (
            "alice",
            "tax/ops",
            "organisation 'tax/ops' must be 1 to 64 characters, with no '/' and no control "
            "characters",
        ),
    ],
)
def test_issue_refuses_a_name_the_hub_cannot_read_or_that_overwrites_its_files(
    pki_cli: Cli, tmp_path: Path, name: str, org: str, message: str
) -> None:
    ca_before = (tmp_path / "pki" / "ca.key").read_bytes()
    hub_before = (tmp_path / "pki" / "hub.crt").read_bytes()
    result = pki_cli("pki", "issue", name, "--org", org, "--dir", "pki", check=exit_codes.USAGE)
    assert (result.stdout, result.stderr) == ("", f"tonglian: {message}\n")
    assert (tmp_path / "pki" / "ca.key").read_bytes() == ca_before
    assert (tmp_path / "pki" / "hub.crt").read_bytes() == hub_before


def test_init_refuses_a_negative_validity(tmp_path: Path) -> None:
    result = Cli(dict(os.environ), tmp_path)(
        "pki", "init", "--dir", "other", "--days", "-1", check=exit_codes.USAGE
    )
    assert (result.stdout, result.stderr) == ("", f"tonglian: validity of -1 days: {RANGE}\n")
    assert not (tmp_path / "other").exists()


def test_issue_within_the_bounds_still_works(pki_cli: Cli, tmp_path: Path) -> None:
    result = pki_cli("pki", "issue", "alice", "--org", "tax", "--dir", "pki", "--days", "36500")
    assert result.stderr == ""
    assert "subject   CN=alice, OU=agency, O=tax" in result.stdout
    shown = pki_cli("pki", "show", "pki/alice.crt", "--dir", "pki")
    assert "subject    CN=alice,OU=agency,O=tax" in shown.stdout
