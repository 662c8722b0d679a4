"""`tonglian verify fabric-block` (hub/cli/verify_fabric_block.py) on the vectors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper beside this file
import fabric_forge as ff

from hub.cli.verify_fabric_block import main

CONFIG = str(ff.DATA / "config-block.pb")
POLICY = "records=AND('Org1MSP.peer','Org2MSP.peer')"


def blocks(*numbers: int) -> list[str]:
    return [str(ff.DATA / f"block-{n}.pb") for n in numbers]


def test_all_valid_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", CONFIG, "--policy", POLICY, *blocks(1, 7, 16, 21)]) == 0
    out = capsys.readouterr().out
    assert "6 transaction(s) checked: 6 valid, 0 invalid; 1 not counted" in out
    assert "BLOCK" in out.splitlines()[0]


def test_json_lines_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", CONFIG, "--policy", POLICY, "--json", *blocks(*range(22))]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 26
    for obj in lines:
        assert set(obj) == {"block", "index", "tx_id", "chaincode", "valid", "flag", "reasons"}
        assert isinstance(obj["reasons"], list)
    invalid = sorted((o["block"], o["index"], o["flag"]) for o in lines if o["valid"] is False)
    assert invalid == [
        (18, 1, "MVCC_READ_CONFLICT"),
        (19, 0, "ENDORSEMENT_POLICY_FAILURE"),
        (20, 0, "ENDORSEMENT_POLICY_FAILURE"),
    ]
    assert sum(o["valid"] is None for o in lines) == 7


def test_bad_policy_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", CONFIG, "--policy", "records=AND('Org1MSP.peer'", *blocks(7)]) == 2
    assert "policy syntax error at position" in capsys.readouterr().err
    assert main(["--config", CONFIG, "--policy", "records", *blocks(7)]) == 2
    assert "is not CHAINCODE=POLICY" in capsys.readouterr().err


def test_unreadable_and_unparsable_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", CONFIG, str(tmp_path / "missing.pb")]) == 2
    assert "cannot read" in capsys.readouterr().err
    junk = tmp_path / "junk.pb"
    junk.write_bytes(b"\xff\xff\x01")
    assert main(["--config", CONFIG, str(junk)]) == 2
    assert "does not parse" in capsys.readouterr().err
    assert main(["--config", str(junk), *blocks(7)]) == 2
    assert main(["--config", CONFIG]) == 2  # no block file: argparse usage error
