"""`tonglian verify fabric-block`: verify raw Fabric blocks against a channel config block.

Exit status: 0 when every counted transaction is valid, 1 when one is not, 2 when the
input is unusable (unreadable or unparsable file, bad policy string).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from tonglian_proof.errors import MalformedInput
from tonglian_proof.verify.fabric.report import TxVerdict, verify_blocks


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tonglian verify fabric-block",
        description="Verify every transaction of Fabric blocks: signatures, certificates, "
        "endorsement policies, data hash and orderer signatures, against a config block.",
    )
    p.add_argument(
        "--config",
        required=True,
        metavar="CONFIG_BLOCK",
        help="the channel's config block (trust anchor)",
    )
    p.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="CHAINCODE=POLICY",
        help="endorsement policy of a chaincode, e.g. "
        "records=\"AND('Org1MSP.peer','Org2MSP.peer')\"; "
        "chaincodes not given use /Channel/Application/Endorsement",
    )
    p.add_argument(
        "--json", action="store_true", help="print one JSON object per transaction per line"
    )
    p.add_argument("blocks", nargs="+", metavar="BLOCK_FILE")
    return p


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise MalformedInput(f"cannot read {path}: {exc.strerror or exc}") from exc


def _policies(items: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip() or not text.strip():
            raise MalformedInput(f"--policy {item!r} is not CHAINCODE=POLICY")
        out[name.strip()] = text
    return out


def _table(verdicts: Sequence[TxVerdict]) -> str:
    rows = [("BLOCK", "TX", "TX ID", "CHAINCODE", "VERDICT", "FLAG", "REASON")]
    for v in verdicts:
        verdict = "-" if v.valid is None else ("valid" if v.valid else "INVALID")
        reason = v.reasons[0] if v.reasons else ""
        if len(v.reasons) > 1:
            reason += f" (+{len(v.reasons) - 1} more)"
        rows.append(
            (str(v.block), str(v.index), v.tx_id[:16], v.chaincode, verdict, v.flag, reason)
        )
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r[:6], widths, strict=True)) + "  " + r[6]
        for r in rows
    ]
    counted = [v for v in verdicts if v.valid is not None]
    bad = sum(1 for v in counted if not v.valid)
    lines.append(
        f"{len(counted)} transaction(s) checked: {len(counted) - bad} valid, {bad} invalid; "
        f"{len(verdicts) - len(counted)} not counted (config or system chaincode)"
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Run the command; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse reports usage errors itself
        return exc.code if isinstance(exc.code, int) else 2
    try:
        config = _read(args.config)
        blocks = [_read(path) for path in args.blocks]
        verdicts = verify_blocks(config, blocks, _policies(args.policy))
    except MalformedInput as exc:
        print(f"tonglian verify fabric-block: {exc}", file=sys.stderr)
        return 2
    if args.json:
        for v in verdicts:
            print(json.dumps(v.as_dict(), ensure_ascii=False))
    else:
        print(_table(verdicts))
    return 1 if any(v.valid is False for v in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
