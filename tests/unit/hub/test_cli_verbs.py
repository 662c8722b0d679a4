"""Every documented `tonglian` verb, run as a user runs it: a fresh process, real files.

The table of verbs is the documented surface (README, docs/); a test checks that
the parser offers exactly these, so a new verb cannot go untested. Every one of
them answers `--help`; the verbs that need no hub run for real here (pki, adapter
new, verify fabric-block); those that need one run in tests/integration/cli.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from hub.cli import exit_codes
from hub.cli.extensions import GROUP, actions_of, discover
from hub.cli.main import VERBS, build_parser, verb_of

ROOT = Path(__file__).resolve().parents[3]
FABRIC = ROOT / "tests" / "data" / "fabric"

# verb -> its actions (empty: the verb takes arguments, no action).
DOCUMENTED: dict[str, tuple[str, ...]] = {
    "serve": (),
    "ping": (),
    "chains": ("add", "list", "show", "remove"),
    "secrets": ("put", "list", "rm"),
    "query": (),
    "records": ("list", "watch", "put"),
    "predicate": (),
    "verify": (),
    "audit": ("list", "head", "export", "verify"),
    "pki": ("init", "issue", "revoke", "show"),
    "routes": ("add", "list", "show", "pause", "resume", "rm"),
    "deliveries": ("list", "show", "retry", "watch"),
    "adapter": ("list", "serve", "check", "new"),
    "devnet": ("up", "down", "status"),
    "demo": (),
}


def declared_extensions() -> list[EntryPoint]:
    """The `tonglian.cli` entry points pyproject.toml declares (what an install registers)."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    table = meta["project"]["entry-points"][GROUP]
    return [EntryPoint(name, value, GROUP) for name, value in table.items()]


def tonglian(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TONGLIAN_HUB": "127.0.0.1:1"}
    return subprocess.run(
        [sys.executable, "-P", "-m", "hub.cli.main", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def test_the_parser_offers_exactly_the_documented_verbs() -> None:
    parser = build_parser(None, discover(declared_extensions()))
    verbs = actions_of(parser)
    assert verbs is not None
    offered = {}
    for name, verb_parser in verbs.choices.items():
        actions = actions_of(verb_parser)
        offered[name] = tuple(actions.choices) if actions else ()
    assert offered == DOCUMENTED


def test_discovery_leaves_out_a_broken_extension_and_names_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    found = discover(
        [
            *declared_extensions(),
            EntryPoint("broken", "tonglian_tools.no_such_module:register", GROUP),
        ]
    )
    assert [e.name for e in found] == ["adapter.new", "demo", "devnet"]
    assert "extension broken (tonglian_tools.no_such_module:register) did not load" in (
        capsys.readouterr().err
    )
    # Without extensions the built-in verbs still parse; the tooling's are simply absent.
    verbs = actions_of(build_parser(None, []))
    assert verbs is not None and set(verbs.choices) == set(VERBS)


@pytest.mark.parametrize(
    ("argv", "verb"),
    [
        (["--help"], None),
        (["--hub", "h:1", "chains", "list"], "chains"),
        (["--hub=h:1", "--insecure", "audit", "head"], "audit"),
        (["--hu", "h:1", "--cert", "c", "--key", "k", "--ca", "a", "pki", "init"], "pki"),
    ],
)
def test_verb_of_skips_global_flags_and_their_values(argv: list[str], verb: str | None) -> None:
    assert verb_of(argv) == verb


def test_top_level_help_lists_every_verb_and_fabric_block() -> None:
    result = tonglian("--help")
    assert result.returncode == 0, result.stderr
    for verb in DOCUMENTED:
        assert f"\n    {verb} " in result.stdout, verb
    assert "tonglian verify fabric-block --config CONFIG_BLOCK BLOCK..." in result.stdout


HELPS = [[verb] for verb in DOCUMENTED] + [
    [verb, action] for verb, actions in DOCUMENTED.items() for action in actions
]


@pytest.mark.parametrize("words", HELPS, ids=[" ".join(w) for w in HELPS])
def test_every_verb_answers_help(words: list[str]) -> None:
    result = tonglian(*words, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: tonglian {' '.join(words)}"), result.stdout[:200]


def test_pki_init_issue_revoke_show_as_json(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    init = tonglian("pki", "init", "--dir", str(pki), "--json")
    assert init.returncode == 0, init.stderr
    files = json.loads(init.stdout)
    assert Path(files["ca_cert"]).exists() and Path(files["hub_cert"]).exists()
    assert files["hosts"] == ["127.0.0.1", "localhost"]

    # The global --cert flag must not clash with the verbs' own arguments.
    issue = tonglian(
        "--cert", "x.crt", "pki", "issue", "bob", "--org", "tax-bureau", "--dir", str(pki), "--json"
    )
    assert issue.returncode == 0, issue.stderr
    issued = json.loads(issue.stdout)
    assert issued["subject"] == "CN=bob,OU=agency,O=tax-bureau"
    assert Path(issued["cert"]).exists() and Path(issued["key"]).exists()

    revoke = tonglian(
        "--cert", "x.crt", "pki", "revoke", issued["cert"], "--dir", str(pki), "--json"
    )
    assert revoke.returncode == 0, revoke.stderr
    assert json.loads(revoke.stdout)["revoked_serial"] == issued["serial"]

    show = tonglian("pki", "show", issued["cert"], "--dir", str(pki), "--json")
    assert show.returncode == 0, show.stderr
    assert json.loads(show.stdout)["revoked"] is True

    text = tonglian("pki", "issue", "eve", "--org", "tax-bureau", "--dir", str(pki))
    assert text.returncode == 0 and text.stdout.startswith("issued    ")


def test_pki_issue_refuses_a_bad_name_with_usage(tmp_path: Path) -> None:
    tonglian("pki", "init", "--dir", str(tmp_path))
    bad = tonglian("pki", "issue", "../evil", "--org", "x", "--dir", str(tmp_path))
    assert bad.returncode == exit_codes.USAGE
    assert bad.stderr.startswith("tonglian: ")


def test_adapter_new_as_json_then_conflict(tmp_path: Path) -> None:
    made = tonglian("adapter", "new", "acme-ledger", "--dir", str(tmp_path), "--json")
    assert made.returncode == 0, made.stderr
    out = json.loads(made.stdout)
    assert out["created"] == str(tmp_path / "tonglian-adapter-acme-ledger")
    assert str(tmp_path / "tonglian-adapter-acme-ledger" / "pyproject.toml") in out["files"]
    again = tonglian("adapter", "new", "acme-ledger", "--dir", str(tmp_path))
    assert again.returncode == exit_codes.CONFLICT
    assert "already exists" in again.stderr


def test_verify_fabric_block_runs_on_real_blocks() -> None:
    result = tonglian(
        "verify",
        "fabric-block",
        "--config",
        str(FABRIC / "config-block.pb"),
        "--policy",
        "records=AND('Org1MSP.peer','Org2MSP.peer')",
        str(FABRIC / "block-7.pb"),
    )
    assert result.returncode == 0, result.stderr


def test_a_client_verb_without_a_hub_says_so_with_exit_3() -> None:
    result = tonglian("--insecure", "chains", "list")
    assert result.returncode == exit_codes.UNAVAILABLE
    assert "cannot reach the hub at 127.0.0.1:1" in result.stderr
