"""Every client verb the README documents, run as a user runs it: a child process against a
real hub over mutual TLS and a real custom ledger (the verbs test_cli.py does not run)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from devnets.custom.writer import write_record
from hub.cli import exit_codes
from tests.integration.cli.runner import Cli

pytestmark = pytest.mark.integration

SCHEMA = "gov.license.business/v1"


def test_records_predicate_routes_deliveries_and_audit_verbs(cli: Cli, tmp_path: Path) -> None:
    info = json.loads(cli("devnet", "up", "custom", "--json").stdout)[0]
    url = info["endpoints"]["http"]
    cli("chains", "add", "--from-devnet", "custom", "--json")
    asyncio.run(write_record(url, "licences", "L-1", SCHEMA, {"status": "active", "n": 1}))

    def write(key: str, status: str) -> None:
        asyncio.run(write_record(url, "licences", key, SCHEMA, {"status": status}))

    listed = cli(
        "records", "list", "custom-1", "--namespace", "licences", "--purpose", "test", "--json"
    ).stdout.splitlines()  # one JSON object a record
    keys = [json.loads(line)["record"]["ref"]["key"] for line in listed]
    assert keys == ["L-1"]
    watched = cli.first_line(
        "records", "watch", "custom-1", "--namespace", "licences", "--purpose", "test", "--json",
        then=lambda: write("L-2", "suspended"),
    )  # fmt: skip
    assert json.loads(watched)["record"]["ref"]["key"] == "L-2"

    yes = json.loads(
        cli("predicate", "custom-1/licences/L-1", "--field", "status", "--equals", '"active"',
            "--purpose", "test", "--json").stdout
    )  # fmt: skip
    assert yes["answer"] is True
    no = json.loads(
        cli("predicate", "custom-1/licences/L-1", "--field", "n", "--equals", "5",
            "--purpose", "test", "--json").stdout
    )  # fmt: skip
    assert no["answer"] is False

    added = json.loads(
        cli("routes", "add", "custom-1/licences", "custom-1/copies", "--route-id", "copy",
            "--schema", SCHEMA, "--json").stdout
    )  # fmt: skip
    assert added["route_id"] == "copy"
    deadline = time.monotonic() + 60
    while True:
        deliveries = [
            json.loads(line)
            for line in cli(
                "deliveries", "list", "--route", "copy", "--state", "confirmed", "--json"
            ).stdout.splitlines()
        ]
        if deliveries:
            break
        assert time.monotonic() < deadline, cli("deliveries", "list", "--json").stdout
        time.sleep(0.5)
    delivery = next(d for d in deliveries if d["record"]["ref"]["key"] == "L-1")
    watched = cli.first_line(
        "deliveries", "watch", "--route", "copy", "--json",
        then=lambda: write("L-3", "revoked"),
    )  # fmt: skip
    assert json.loads(watched)["record"]["ref"]["key"] == "L-3"
    refused_message = (
        f"tonglian: FAILED_PRECONDITION: delivery {delivery['delivery_id']} is "
        "DELIVERY_STATE_CONFIRMED; only a parked, failed or destination-rejected delivery "
        "can be retried\n"
    )
    refused = cli("deliveries", "retry", delivery["delivery_id"], check=exit_codes.FAILED)
    assert refused.stderr == refused_message
    # The 16 characters `deliveries list` shows name the same delivery.
    shown = cli("deliveries", "list", "--route", "copy").stdout
    short = delivery["delivery_id"][:16]
    assert short in shown and delivery["delivery_id"] not in shown
    refused = cli("deliveries", "retry", short, check=exit_codes.FAILED)
    assert refused.stderr == refused_message
    assert (
        cli("deliveries", "show", short, "--json").stdout
        == cli("deliveries", "show", delivery["delivery_id"], "--json").stdout
    )
    ghost = cli("deliveries", "retry", "zz-no-such", check=exit_codes.NOT_FOUND)
    assert "zz-no-such" in ghost.stderr
    placeholder = cli(
        "routes", "add", "custom-1/licences", "evm-1/0xInboxAddress", check=exit_codes.USAGE
    )
    assert placeholder.stderr == (
        "tonglian: destination evm-1/0xInboxAddress: '0xInboxAddress' is not an EVM address "
        "(0x and 40 hex digits); give the destination chain's inbox contract address "
        "(`tonglian devnet up evm` prints the devnet's)\n"
    )

    assert json.loads(cli("routes", "show", "copy", "--json").stdout)["state"] == (
        "ROUTE_STATE_ACTIVE"
    )
    cli("routes", "pause", "copy")
    assert json.loads(cli("routes", "show", "copy", "--json").stdout)["state"] == (
        "ROUTE_STATE_PAUSED"
    )
    cli("routes", "resume", "copy")
    assert "copy" in cli("routes", "list").stdout
    cli("routes", "rm", "copy")
    gone = cli("routes", "show", "copy", check=exit_codes.NOT_FOUND)
    assert "copy" in gone.stderr

    head = json.loads(cli("audit", "head", "--json").stdout)
    assert int(head["sequence"]) > 0
    out = cli("audit", "list", "--json").stdout
    events = [json.loads(line) for line in out.splitlines()]
    actions = {e["action"] for e in events}
    assert {"query.list_records", "query.evaluate_predicate", "relay.create_route"} <= actions
    export = tmp_path / "audit.jsonl"
    cli("audit", "export", str(export))
    assert len(export.read_text().splitlines()) > int(head["sequence"]) // 2
    verified = cli("audit", "verify", "--file", str(export), "--json")
    assert json.loads(verified.stdout)["intact"] is True
