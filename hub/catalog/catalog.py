"""SchemaCatalog: loads the record schemas and checks record values against them.

A schema file is a JSON Schema (draft 2020-12) whose `$id` is the record type's
name, `<dotted.name>/v<N>`; a new version is a new file, old ones stay. The
shipped schemas live beside this module; `catalog_dir` adds more. A file that
does not parse, is not a valid JSON Schema or repeats an `$id` stops the load
with the file and the error, so a broken schema never silently passes records.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match

from hub.errors import InvalidInput, SchemaViolation
from tonglian.v1 import records_pb2

SHIPPED = Path(__file__).parent / "schemas"
SCHEMA_NAME = re.compile(r"^[a-z][a-z0-9]*(\.[a-z][a-z0-9_-]*)+/v[1-9][0-9]*$")


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    path: Path
    validator: Draft202012Validator


def load_schema(path: Path) -> CatalogEntry:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read schema {path}: {exc.strerror}") from exc
    try:
        schema = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"schema {path} does not parse: {exc}") from exc
    if not isinstance(schema, dict):
        raise InvalidInput(f"schema {path} must be a JSON object")
    name = schema.get("$id")
    if not isinstance(name, str) or not SCHEMA_NAME.match(name):
        raise InvalidInput(
            f"schema {path}: $id {name!r} must name the record type, e.g. gov.license.business/v1"
        )
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "$" + "".join(f"[{p!r}]" for p in exc.path)
        raise InvalidInput(
            f"schema {path} is not a valid JSON Schema at {where}: {exc.message}"
        ) from exc
    return CatalogEntry(name, path, Draft202012Validator(schema))


# What each JSON Schema keyword asks of a value, said from the schema's side: a violation
# is reported by the rule it breaks, never by the value that breaks it (the value may be
# what the policy keeps from the caller, as in a yes/no question about it).
_RULES = {
    "required": "is required",
    "type": "must be of type {}",
    "enum": "must be one of {}",
    "const": "must equal {}",
    "minimum": "must be at least {}",
    "maximum": "must be at most {}",
    "exclusiveMinimum": "must be greater than {}",
    "exclusiveMaximum": "must be less than {}",
    "multipleOf": "must be a multiple of {}",
    "minLength": "must have at least {} characters",
    "maxLength": "must have at most {} characters",
    "pattern": "must match the pattern {!r}",
    "format": "must be a valid {}",
    "minItems": "must have at least {} items",
    "maxItems": "must have at most {} items",
    "uniqueItems": "must not repeat items",
    "minProperties": "must have at least {} properties",
    "maxProperties": "must have at most {} properties",
    "additionalProperties": "has a property the schema does not allow",
}
_SCALAR = (str, int, float, bool, list)


def broken_rule(error: ValidationError) -> str:
    """The schema rule a value breaks, e.g. "must be at least 0 (minimum)": the schema's
    words, with no part of the value."""
    keyword = str(error.validator)
    template = _RULES.get(keyword)
    if template is None:
        return f"fails the schema's {keyword!r} rule"
    bound = error.validator_value
    shown = bound if isinstance(bound, _SCALAR) and len(str(bound)) <= 200 else "…"
    return f"{template.format(shown)} ({keyword})"


def _field(error: ValidationError) -> str:
    path = str(error.json_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [r for r in error.validator_value if r not in error.instance]
        if missing:
            return f"{path}.{missing[0]}"
    return path


class SchemaCatalog:
    def __init__(self, entries: list[CatalogEntry], *, strict: bool = False) -> None:
        self._entries: dict[str, CatalogEntry] = {}
        for entry in entries:
            if entry.name in self._entries:
                raise InvalidInput(
                    f"schema {entry.name} is defined twice: {self._entries[entry.name].path} "
                    f"and {entry.path}"
                )
            self._entries[entry.name] = entry
        self.strict = strict

    @classmethod
    def load(cls, extra_dir: Path | None = None, *, strict: bool = False) -> SchemaCatalog:
        files = sorted(SHIPPED.glob("*.json"))
        if extra_dir is not None:
            if not extra_dir.is_dir():
                raise InvalidInput(f"schema catalog folder {extra_dir} does not exist")
            files += sorted(extra_dir.glob("*.json"))
        return cls([load_schema(f) for f in files], strict=strict)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def knows(self, name: str) -> bool:
        return name in self._entries

    def check_value(self, name: str, value: Any, what: str) -> None:
        """Raises SchemaViolation naming the first failing field of `value` and the rule it
        breaks, never the value."""
        entry = self._entries[name]
        error = best_match(entry.validator.iter_errors(value))
        if error is not None:
            raise SchemaViolation(
                f"{what} violates {name} at {_field(error)}: {broken_rule(error)}"
            )

    def check(self, record: records_pb2.Record) -> bool:
        """Checks a record's value against its schema: True when checked, False when its
        schema is not in the catalog (refused instead when strict). For the query path
        and for the relay before it forwards a record."""
        ref = record.ref
        what = f"record {ref.chain_id}/{ref.namespace}/{ref.key} version {record.version}"
        if not self.knows(record.schema):
            if self.strict:
                raise SchemaViolation(
                    f"{what} names schema {record.schema!r}, which is not in the catalog"
                )
            return False
        if record.deleted:
            return True
        try:
            value = json.loads(record.value)
        except ValueError:
            raise SchemaViolation(f"{what} violates {record.schema} at $: not JSON") from None
        self.check_value(record.schema, value, what)
        return True


@functools.lru_cache(maxsize=1)
def shipped_catalog() -> SchemaCatalog:
    """The schemas that ship with the hub (for tools and tests that need no settings)."""
    return SchemaCatalog.load()
