"""The `tonglian` command as a user runs it: real devnet, real hub, real files, exit codes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from devnets.custom.writer import write_record
from hub.cli import exit_codes
from tests.integration.cli.runner import Cli
from tonglian_tools.hub_process import HubProcess

pytestmark = pytest.mark.integration


def test_devnet_register_query_verify(cli: Cli, tmp_path: Path, hub_process: HubProcess) -> None:
    up = cli("devnet", "up", "custom", "--json")
    info = json.loads(up.stdout)[0]
    assert info["kind"] == "custom"
    assert "custom: ready in" in up.stderr or up.stderr == ""

    status = json.loads(cli("devnet", "status", "custom", "--json").stdout)
    assert status[0]["running"] is True

    added = json.loads(cli("chains", "add", "--from-devnet", "custom", "--json").stdout)
    assert added["chain_id"] == "custom-1"
    assert "custom-1" in cli("chains", "list").stdout

    asyncio.run(
        write_record(
            info["endpoints"]["http"],
            "licences",
            "L-1",
            "gov.license.business/v1",
            {"status": "active"},
        )
    )
    bundle = tmp_path / "l1.pb"
    out = json.loads(
        cli(
            "query", "custom-1/licences/L-1", "--purpose", "test", "--out", str(bundle), "--json"
        ).stdout
    )
    assert out["value"] == {"status": "active"}
    assert out["verification"]["verified"] is True

    # Nothing of the reader's: consistent, but NOT anchored, exit 1.
    cli.env["TONGLIAN_ANCHORS"] = str(tmp_path / "no-anchors")
    alone = json.loads(cli("verify", str(bundle), "--json", check=exit_codes.FAILED).stdout)
    assert alone["verified"] is False and alone["anchored"] is False
    assert alone["consistent"] is True
    assert "inside the bundle, which anyone can make" in alone["anchored_in"]
    # Then query's hint says what verify still needs, not a command that would fail.
    query = ("query", "custom-1/licences/L-1", "--purpose", "test", "--out", str(bundle))
    assert (
        f"bundle   written to {bundle} (check it offline: tonglian verify {bundle} --anchor "
        "FILE, with custom-1's trust anchor from its operator (or put it in "
        f"{tmp_path / 'no-anchors'}/custom-1.json))\n"
    ) in cli(*query).stdout
    # Where `devnet up` left the chain's anchor, the bare command is printed, and verifies.
    cli.env["TONGLIAN_ANCHORS"] = str(tmp_path / "devnet-anchors")
    hint = f"(check it offline: tonglian verify {bundle})\n"
    assert hint in cli(*query).stdout
    assert f"{bundle}: verified custom-1/licences/L-1" in cli("verify", str(bundle)).stdout

    # The chain's anchors as its operator published them (here: the devnet's own record).
    anchors = tmp_path / "anchors"
    anchors.mkdir()
    (anchors / "custom-1.json").write_text(json.dumps(info["chain"]["trustAnchor"]))
    ok = json.loads(cli("verify", str(bundle), "--anchors", str(anchors), "--json").stdout)
    assert ok["verified"] is True and ok["anchored_in"] == "the trust anchor you gave"
    cli.env["TONGLIAN_ANCHORS"] = str(anchors)
    assert json.loads(cli("verify", str(bundle), "--json").stdout)["verified"] is True
    signed = json.loads(
        cli(
            "verify", str(bundle), "--anchors", str(tmp_path / "no-anchors"), "--hub-key",
            str(hub_process.pki_dir / "ca.crt"), "--json",
        ).stdout
    )  # fmt: skip
    assert signed["verified"] is True
    assert signed["anchored_in"].startswith("the signature of hub CN=hub,OU=hub")

    data = bundle.read_bytes()
    for position in (0, len(data) // 3, len(data) // 2, len(data) - 1):
        bad = tmp_path / f"bad-{position}.pb"
        flipped = bytearray(data)
        flipped[position] ^= 0x20
        bad.write_bytes(bytes(flipped))
        refused = cli("verify", str(bad), "--json", check=None)
        report = json.loads(refused.stdout)
        assert report["verified"] is False
        # A flip that breaks the protobuf or its format leaves no bundle (unusable input,
        # 2); any other fails a check (1).
        unparsable = report["reason"].startswith("not a proof bundle:")
        assert refused.returncode == (exit_codes.USAGE if unparsable else exit_codes.FAILED)

    people = cli("verify", str(bundle)).stdout
    assert "verified custom-1/licences/L-1 version 1 (signed_merkle proof)" in people

    cli("chains", "remove", "custom-1")
    gone = cli("chains", "show", "custom-1", check=exit_codes.NOT_FOUND)
    assert "no chain 'custom-1' is registered" in gone.stderr

    down = cli("devnet", "down", "custom")
    assert "stopped: custom" in down.stdout


def test_exit_codes(cli: Cli, tmp_path: Path) -> None:
    r = cli("query", "no-slashes", "--purpose", "test", check=exit_codes.USAGE)
    assert "record reference 'no-slashes' must be CHAIN/NAMESPACE/KEY" in r.stderr
    r = cli("query", "ghost/ns/key", "--purpose", "test", check=exit_codes.NOT_FOUND)
    assert "NOT_FOUND: no chain 'ghost' is registered" in r.stderr
    r = cli("--hub", "127.0.0.1:1", "chains", "list", check=exit_codes.UNAVAILABLE)
    assert "cannot reach the hub at 127.0.0.1:1" in r.stderr
    missing = tmp_path / "absent.pb"
    r = cli("verify", str(missing), check=exit_codes.USAGE)
    assert f"cannot read bundle {missing}: No such file or directory" in r.stderr
    junk = tmp_path / "junk.pb"
    junk.write_bytes(b"\xff\xff\xff")
    r = cli("verify", str(junk), check=exit_codes.USAGE)
    assert r.stderr == (
        f"tonglian: {junk}: NOT verified: not a proof bundle: the protobuf does not parse "
        "(Error parsing message with type 'tonglian.v1.ProofBundle')\n"
    )
    readme = tmp_path / "README.md"
    readme.write_text("# not a bundle\n")
    r = cli("verify", str(readme), check=exit_codes.USAGE)
    assert "NOT verified: not a proof bundle" in r.stderr
    r = cli("chains", "add", "--from-devnet", "custom", check=exit_codes.USAGE)
    assert "no running custom devnet found" in r.stderr
