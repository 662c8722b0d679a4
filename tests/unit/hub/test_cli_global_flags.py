"""Global flags are accepted after the verb: `tonglian chains list --hub X` is `--hub X chains
list`. Only the exact global names move; `serve --insecure` stays serve's own flag."""

from __future__ import annotations

import pytest

from hub.cli.main import build_parser, hoist_globals


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["chains", "list", "--hub", "h:1", "--json"],
         ["--hub", "h:1", "chains", "list", "--json"]),
        (["audit", "list", "--cert=c", "--key", "k", "--ca", "a"],
         ["--cert=c", "--key", "k", "--ca", "a", "audit", "list"]),
        (["query", "r", "--insecure", "--purpose", "p"],
         ["--insecure", "query", "r", "--purpose", "p"]),
        (["serve", "--insecure", "--listen", "x"], ["serve", "--insecure", "--listen", "x"]),
        # A flag's value that spells a verb is not the verb.
        (["--hub", "chains", "audit", "head", "--key", "k"],
         ["--hub", "chains", "--key", "k", "audit", "head"]),
        # After `--` nothing moves; abbreviations are a verb's own.
        (["records", "list", "c", "--", "--hub", "x"],
         ["records", "list", "c", "--", "--hub", "x"]),
        (["records", "list", "c", "--key-prefix", "k"],
         ["records", "list", "c", "--key-prefix", "k"]),
    ],
)  # fmt: skip
def test_global_flags_after_the_verb_move_before_it(argv: list[str], expected: list[str]) -> None:
    assert hoist_globals(argv) == expected


def test_the_parser_reads_them_after_the_verb() -> None:
    argv = ["chains", "list", "--hub", "h:1", "--cert", "c.crt", "--key", "c.key", "--ca", "ca"]
    args = build_parser(["chains"], []).parse_args(hoist_globals(argv))
    assert (args.hub, args.tls_cert, args.tls_key, args.tls_ca) == ("h:1", "c.crt", "c.key", "ca")
    serve = build_parser(["serve"], []).parse_args(hoist_globals(["serve", "--insecure"]))
    assert serve.insecure is True and serve.client_insecure is False
