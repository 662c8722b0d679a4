"""The files of a new adapter package, as str.format templates ({{ and }} are literal braces).

Placeholders: {name} (entry-point name), {module} (Python package), {class_name},
{env} (prefix of the environment variables the conformance test reads).
"""

from __future__ import annotations

PYPROJECT = """\
[build-system]
requires = ["setuptools>=69", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "tonglian-adapter-{name}"
version = "0.1.0"
description = "Tonglian adapter for {name} chains"
requires-python = ">=3.11"
# The SDK: adapters.base (the protocol and typed errors) and the tonglian.v1 messages.
dependencies = ["tonglian", "aiohttp>=3.10,<4", "pydantic>=2.7,<3"]

[project.entry-points."tonglian.adapters"]
{name} = "{module}:create_adapter"

[tool.setuptools.packages.find]
include = ["{module}*"]

[tool.pytest.ini_options]
asyncio_mode = "auto"
"""

README = """\
# tonglian-adapter-{name}

A Tonglian adapter for {name} chains. See `docs/adapters.md` in Tonglian.

```sh
pip install -e .                       # into the hub's environment
tonglian adapter list                  # {name} shows as loadable
tonglian adapter check {name} --option url=http://127.0.0.1:8080 \\
    --anchor anchor.json --seed NAMESPACE/KEY --report report.json
tonglian adapter serve {name} --listen 127.0.0.1:50071 --option url=...   # out of process
```
"""

INIT = '''\
"""The `{name}` adapter plugin: `create_adapter` is its `tonglian.adapters` entry point."""

from __future__ import annotations

from pydantic import ValidationError

from adapters.base import Adapter, AdapterContext, AdapterMisconfigured
from {module}.adapter import {class_name}
from {module}.options import Options


def create_adapter(ctx: AdapterContext) -> Adapter:
    """Checks the options (AdapterSettings.options); connects lazily, on the first call."""
    try:
        options = Options.model_validate(dict(ctx.options))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "options"
        raise AdapterMisconfigured(f"{name} adapter options: {{loc}}: {{first['msg']}}") from None
    return {class_name}(ctx, options)
'''

OPTIONS = '''\
"""The adapter's settings, from `--option KEY=VALUE` or AdapterSettings.options."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, HttpUrl


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # TODO: what your adapter needs to reach the chain (endpoints, credential file paths).
    url: HttpUrl
'''

ADAPTER = '''\
"""{class_name}: the Adapter protocol for {name} chains.

Contract (checked by `tonglian adapter check`): return records in the tonglian.v1
schema with raw proof material in one of the hub's proof kinds (most permissioned
ledgers fit signed_merkle); report only final blocks; raise the typed errors of
adapters.base: RecordNotFound for an unknown key, InvalidAdapterRequest for bad
input, ChainUnavailable when the chain cannot be reached, SubmissionRejected when
a delivery can never apply. Never import from `hub`: the hub verifies, you move bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from adapters.base import AdapterContext, AdapterMisconfigured
from tonglian.v1 import adapter_pb2, chains_pb2, relay_pb2
from {module}.options import Options

ADAPTER_NAME = "{name}/0.1.0"


def _todo(what: str) -> AdapterMisconfigured:
    return AdapterMisconfigured(f"{name} adapter: {{what}} is not implemented yet")


class {class_name}:
    def __init__(self, ctx: AdapterContext, options: Options) -> None:
        self.chain_id = ctx.chain_id
        self.options = options
        self.timeout = ctx.timeout

    async def describe(self) -> adapter_pb2.DescribeResponse:
        # TODO: ask the chain who it is; kind is the proof kind you emit, network_id the
        # identity the trust anchor pins (signed_merkle: ledger_id).
        raise _todo("describe")

    async def head(self) -> chains_pb2.ChainHead:
        # TODO: height and final_height (final_height <= height), block_hash, time.
        raise _todo("head")

    async def read(
        self, namespace: str, key: str, at_height: int = 0
    ) -> adapter_pb2.ReadRecordResponse:
        # TODO: the latest final version of namespace/key (or the latest at or below
        # at_height) as a Record with record.ref.chain_id = self.chain_id, and its Proof.
        raise _todo("read")

    async def scan(
        self, namespace: str, from_height: int, to_height: int = 0, follow: bool = False
    ) -> AsyncIterator[adapter_pb2.ScanResponse]:
        # TODO: for each final block from from_height: its records (same bytes as read),
        # then a BlockMark(height, block_hash, parent_hash); wait for more when following.
        raise _todo("scan")
        yield  # pragma: no cover - makes this an async generator

    async def submit(self, delivery: relay_pb2.Delivery) -> adapter_pb2.Submission:
        # TODO: apply once per delivery_id (a repeat answers DUPLICATE, nothing applied twice).
        raise _todo("submit")

    async def submission(self, delivery_id: str) -> adapter_pb2.Submission:
        # TODO: PENDING, CONFIRMED, or UNKNOWN when the chain never saw this id.
        raise _todo("submission")

    async def close(self) -> None:
        return None
'''

TEST = '''\
"""The conformance kit against this adapter; set {env}_URL, {env}_ANCHOR (a TrustAnchor in
JSON) and {env}_SEEDS (NAMESPACE/KEY,...) to run it against a chain holding those records."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from google.protobuf.json_format import ParseDict

from adapters.base import AdapterContext
from hub import adapter_plugins
from hub.conformance.suite import SuiteConfig, run_suite
from tonglian.v1 import chains_pb2


def test_entry_point_is_installed() -> None:
    assert "{name}" in adapter_plugins.installed()
    assert callable(adapter_plugins.factory("{name}"))


@pytest.mark.skipif(not os.environ.get("{env}_URL"), reason="set {env}_URL to run the kit")
async def test_conformance() -> None:
    anchor = ParseDict(
        json.loads(Path(os.environ["{env}_ANCHOR"]).read_text()), chains_pb2.TrustAnchor()
    )
    seeds = [tuple(s.split("/", 1)) for s in os.environ.get("{env}_SEEDS", "").split(",") if s]
    adapter = adapter_plugins.factory("{name}")(
        AdapterContext(chain_id="{name}-1", options={{"url": os.environ["{env}_URL"]}})
    )
    card = await run_suite(adapter, "{name}", SuiteConfig(anchor=anchor, seeds=seeds))
    print(card.render())
    assert card.certified
'''

FILES: dict[str, str] = {
    "pyproject.toml": PYPROJECT,
    "README.md": README,
    "{module}/__init__.py": INIT,
    "{module}/options.py": OPTIONS,
    "{module}/adapter.py": ADAPTER,
    "{module}/py.typed": "",
    "tests/test_conformance.py": TEST,
}
