"""`tonglian adapter new`: the package it writes imports, builds an Adapter, runs in the kit."""

from __future__ import annotations

import asyncio
import importlib
import sys
import tomllib
from pathlib import Path

from adapters.base import Adapter, AdapterContext
from hub.cli.main import main
from hub.conformance.suite import SuiteConfig, run_suite
from tonglian.v1 import chains_pb2


def test_new_package_is_wired_and_fails_the_kit_until_implemented(tmp_path: Path) -> None:
    assert main(["adapter", "new", "acme-ledger", "--dir", str(tmp_path)]) == 0
    root = tmp_path / "tonglian-adapter-acme-ledger"
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    entry = meta["project"]["entry-points"]["tonglian.adapters"]["acme-ledger"]
    assert entry == "tonglian_adapter_acme_ledger:create_adapter"
    assert (root / "tests" / "test_conformance.py").exists()
    assert main(["adapter", "new", "acme-ledger", "--dir", str(tmp_path)]) == 6
    assert main(["adapter", "new", "Bad_Name", "--dir", str(tmp_path)]) == 2

    sys.path.insert(0, str(root))
    try:
        package = importlib.import_module("tonglian_adapter_acme_ledger")
        adapter = package.create_adapter(
            AdapterContext(chain_id="acme-1", options={"url": "http://127.0.0.1:9"})
        )
        assert isinstance(adapter, Adapter)
    finally:
        sys.path.remove(str(root))
    anchor = chains_pb2.TrustAnchor()
    anchor.signed_merkle.ledger_id = "acme"
    card = asyncio.run(
        run_suite(adapter, "acme-ledger", SuiteConfig(anchor=anchor, seeds=[("ns", "k")]))
    )
    assert not card.certified
    assert "describe is not implemented yet" in card.result("describe").evidence[0]
