"""The SDK loads a service's generated code on its first call, not when it is imported.

That is what lets `tonglian chains list` start without paying for the query, relay
and audit services' code; the loaded module must still be the real one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tonglian_client.lazy_modules import lazy_module

ROOT = Path(__file__).resolve().parents[3]


def test_module_runs_on_first_attribute_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lazy_probe_mod.py").write_text(
        "import builtins\nbuiltins.lazy_probe_ran = True\nVALUE = 42\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lazy_probe_mod", raising=False)
    import builtins

    monkeypatch.setattr(builtins, "lazy_probe_ran", False, raising=False)
    module = lazy_module("lazy_probe_mod")
    assert builtins.lazy_probe_ran is False
    assert module.VALUE == 42
    assert builtins.lazy_probe_ran is True
    assert sys.modules["lazy_probe_mod"] is module


def test_a_loaded_module_is_returned_as_it_is() -> None:
    import json as loaded

    assert lazy_module("json") is loaded


def test_unknown_module_is_refused_at_once() -> None:
    with pytest.raises(ModuleNotFoundError, match="no module named 'tonglian_no_such_module'"):
        lazy_module("tonglian_no_such_module")


_PROBE = textwrap.dedent(
    """
    import json, sys, types
    import tonglian_client.client as c
    names = ["tonglian.v1." + n for n in ("chains_pb2", "query_pb2", "relay_pb2", "audit_pb2")]
    def ran(name):
        return type(sys.modules[name]) is types.ModuleType
    before = {n: ran(n) for n in names}
    c.chains_pb2.ListChainsRequest(page_token="x")
    print(json.dumps({"before": before, "after": {n: ran(n) for n in names}}))
    """
)


def test_sdk_import_runs_no_service_code_until_a_message_is_built() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, cwd=ROOT
    )
    found = json.loads(out.stdout)
    assert not any(found["before"].values()), found
    assert found["after"] == {
        "tonglian.v1.chains_pb2": True,
        "tonglian.v1.query_pb2": False,
        "tonglian.v1.relay_pb2": False,
        "tonglian.v1.audit_pb2": False,
    }
