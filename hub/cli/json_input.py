"""Reading a protobuf message from a JSON file a person wrote (chains, trust anchors)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from google.protobuf.json_format import ParseDict, ParseError
from google.protobuf.message import Message

from hub.errors import InvalidInput

M = TypeVar("M", bound=Message)


def parse_json_file(path: Path, message: M, what: str) -> M:
    """Fills `message` from the JSON file at `path`; InvalidInput names what is wrong."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} file {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise InvalidInput(f"{what} file {path} is not JSON: {exc}") from exc
    try:
        ParseDict(data, message)
        return message
    except ParseError as exc:
        raise InvalidInput(
            f"{what} file {path} is not a valid {message.DESCRIPTOR.name}: {exc}"
        ) from exc
