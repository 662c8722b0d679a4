"""What may import what: the layering of DESIGN.md, checked on the code as it is.

Two kinds of check. Fresh interpreters import every module of the proof core and of
the SDK and list what got loaded (so transitive imports count). The source of every
module is parsed with `ast` (so function-local imports count too, and nothing is
run): adapters reach into the hub only for the adapter protocol types, the server
never imports the devnets or the development tooling, the proof core nothing of
the others.
"""

from __future__ import annotations

import ast
import gc
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What a fresh interpreter prints: the top-level packages loaded after importing them all.
_PROBE = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
names = [sys.argv[1]] + [m.name for m in pkgutil.walk_packages(package.__path__, sys.argv[1] + ".")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def _load_all(package: str) -> tuple[list[str], set[str]]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, package],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    found = json.loads(out.stdout)
    return found["modules"], set(found["loaded"])


def test_sdk_loads_no_server_chain_or_web_library() -> None:
    modules, loaded = _load_all("tonglian_client")
    assert "tonglian_client.client" in modules and "tonglian_client.verify" in modules
    forbidden = {"hub", "adapters", "devnets", "tonglian_tools", "web3", "aiohttp", "sqlite3"}
    assert loaded & forbidden == set()


def test_proof_core_loads_no_grpc_io_or_other_tonglian_package() -> None:
    modules, loaded = _load_all("tonglian_proof")
    assert "tonglian_proof.canonical" in modules and "tonglian_proof.bundle" in modules
    forbidden = {"grpc", "aiohttp", "web3", "sqlite3", "asyncpg", "hub", "adapters", "devnets"}
    forbidden |= {"tonglian_client", "tonglian_tools"}
    assert loaded & forbidden == set()


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, with its line: top-level and function-local alike."""
    # Without the collector: Python 3.11.7's AST constructor checks its recursion depth
    # after building, and a finalizer the collector runs meanwhile (objects left by
    # earlier tests) moves it: "SystemError: AST constructor recursion depth mismatch".
    gc.disable()
    try:
        tree = ast.parse(path.read_text(), str(path))
    finally:
        gc.enable()
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _violations(package: str, allowed: Callable[[str], bool]) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, name in imports_of(path):
            if not allowed(name):
                bad.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    return bad


def _under(name: str, *roots: str) -> bool:
    return any(name == r or name.startswith(r + ".") for r in roots)


# The adapter protocol types adapters may take from the hub (none today: adapters.base
# holds the protocol; this is where an exception would be named).
ADAPTER_MAY_USE: tuple[str, ...] = ()


def test_adapters_use_nothing_of_the_hub_but_the_protocol_types() -> None:
    assert (
        _violations(
            "adapters",
            lambda n: (
                not _under(n, "hub", "devnets", "tonglian_tools") or _under(n, *ADAPTER_MAY_USE)
            ),
        )
        == []
    )


def test_server_imports_no_devnets_and_no_tooling() -> None:
    assert _violations("hub", lambda n: not _under(n, "devnets", "tonglian_tools")) == []


def test_proof_core_imports_nothing_of_the_others() -> None:
    others = ("hub", "adapters", "devnets", "tonglian_tools", "tonglian_client", "grpc")
    assert _violations("tonglian_proof", lambda n: not _under(n, *others)) == []


def test_sdk_imports_only_grpc_generated_code_and_the_proof_core() -> None:
    others = ("hub", "adapters", "devnets", "tonglian_tools", "web3", "aiohttp", "sqlite3")
    assert _violations("tonglian_client", lambda n: not _under(n, *others)) == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("def f():\n    from devnets.base import load_info\n", [(2, "devnets.base.load_info")]),
        ("import devnets.registry, json\n", [(1, "devnets.registry"), (1, "json")]),
        ("if True:\n    from tonglian_tools import cli\n", [(2, "tonglian_tools.cli")]),
        ("from . import sibling\n", []),
    ],
)
def test_the_rule_sees_local_and_top_level_imports(
    tmp_path: Path, source: str, found: list[tuple[int, str]]
) -> None:
    (tmp_path / "x.py").write_text(source)
    assert imports_of(tmp_path / "x.py") == found
