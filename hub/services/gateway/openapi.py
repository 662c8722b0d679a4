"""The gateway's OpenAPI 3.1 document, generated from the protos' HTTP rules.

`make proto` (proto/generate.sh) writes it to hub/services/gateway/openapi.json, which is
checked in and served at /openapi.json; `proto/generate.sh --check` fails when it no
longer matches the protos. Schemas follow protobuf's JSON mapping as the gateway writes
it (proto field names; 64-bit integers and bytes as strings).

    python -m hub.services.gateway.openapi > hub/services/gateway/openapi.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from hub.services.gateway.bindings import Binding, bindings
from hub.services.gateway.errors import HTTP_STATUS

TITLE = "Tonglian HTTP/JSON gateway"
_INT64 = (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64)
_UINT64 = (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64)
_INT32 = (
    FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32,
)  # fmt: skip
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string"},
    "google.protobuf.Any": {"type": "object", "additionalProperties": True},
}
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "status", "message", "details"],
            "properties": {
                "code": {"type": "integer", "description": "The gRPC status code."},
                "status": {"type": "string", "description": "The gRPC status name."},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "description": "google.rpc.ErrorInfo: reason, domain, metadata.",
                    "items": {"type": "object", "additionalProperties": True},
                },
            },
        }
    },
}


class _Schemas:
    """components/schemas, filled as messages are referred to."""

    def __init__(self) -> None:
        self.found: dict[str, dict[str, Any]] = {}

    def ref(self, message: Descriptor) -> dict[str, Any]:
        if message.full_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[message.full_name])
        if message.full_name not in self.found:
            self.found[message.full_name] = {}  # placeholder: recursive messages
            self.found[message.full_name] = self._message(message)
        return {"$ref": f"#/components/schemas/{message.full_name}"}

    def _message(self, message: Descriptor) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {f.name: self.field(f) for f in message.fields},
        }

    def field(self, field: FieldDescriptor) -> dict[str, Any]:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value = field.message_type.fields_by_name["value"]
            return {"type": "object", "additionalProperties": self._single(value)}
        single = self._single(field)
        if field.label == FieldDescriptor.LABEL_REPEATED:
            return {"type": "array", "items": single}
        return single

    def _single(self, field: FieldDescriptor) -> dict[str, Any]:
        kind = field.type
        if kind == FieldDescriptor.TYPE_MESSAGE:
            return self.ref(field.message_type)
        if kind == FieldDescriptor.TYPE_ENUM:
            return _enum(field.enum_type)
        if kind in _INT64:
            return {"type": "string", "format": "int64"}
        if kind in _UINT64:
            return {"type": "string", "format": "uint64"}
        if kind in _INT32:
            return {"type": "integer", "format": "int32"}
        if kind == FieldDescriptor.TYPE_BOOL:
            return {"type": "boolean"}
        if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            return {"type": "number"}
        if kind == FieldDescriptor.TYPE_BYTES:
            return {"type": "string", "format": "byte"}
        return {"type": "string"}


def _enum(enum: EnumDescriptor) -> dict[str, Any]:
    return {"type": "string", "enum": [v.name for v in enum.values]}


def _leaves(message: Descriptor, prefix: str, depth: int = 0) -> list[tuple[str, FieldDescriptor]]:
    """(dotted name, field) of every scalar field a query string can set."""
    found: list[tuple[str, FieldDescriptor]] = []
    for field in message.fields:
        name = f"{prefix}{field.name}"
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if depth < 2 and field.label != FieldDescriptor.LABEL_REPEATED:
                found.extend(_leaves(field.message_type, f"{name}.", depth + 1))
        else:
            found.append((name, field))
    return found


def _operation(binding: Binding, schemas: _Schemas) -> dict[str, Any]:
    method = binding.method
    parameters: list[dict[str, Any]] = [
        {"name": path, "in": "path", "required": True, "schema": {"type": "string"}}
        for path in binding.variables
    ]
    if not binding.body:
        parameters += [
            {"name": name, "in": "query", "schema": schemas.field(field)}
            for name, field in _leaves(binding.input, "")
            if name not in binding.variables
        ]
    operation: dict[str, Any] = {
        "operationId": method.name
        if binding.index == 0
        else f"{method.name}_{binding.template.rsplit('/', 1)[-1]}",
        "summary": f"{method.containing_service.full_name}.{method.name}",
        "tags": [method.containing_service.name],
        "parameters": parameters,
        "responses": {
            "200": {"description": "OK", "content": _content(binding, schemas)},
            "default": {
                "description": "A gRPC status as JSON; the HTTP status follows the code.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
    }
    if binding.body:
        body_schema = (
            schemas.ref(binding.input) if binding.body == "*"
            else schemas.field(binding.input.fields_by_name[binding.body])
        )  # fmt: skip
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body_schema}},
        }
    return operation


def _content(binding: Binding, schemas: _Schemas) -> dict[str, Any]:
    output = schemas.ref(binding.output)
    if binding.streaming:
        return {
            "text/event-stream": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": output},
        }
    if binding.response_body:
        message: Descriptor = binding.output
        for name in binding.response_body.split("."):
            message = message.fields_by_name[name].message_type
        return {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": schemas.ref(message)},
        }
    return {
        "application/json": {"schema": output},
        "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
    }


def document(found: list[Binding]) -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for binding in found:
        paths.setdefault(binding.openapi_path, {})[binding.verb] = _operation(binding, schemas)
    components = dict(sorted(schemas.found.items()))
    components["Error"] = ERROR
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": "v1",
            "description": "Generated from proto/tonglian/v1 (google.api.http rules); "
            "docs/gateway.md. HTTP statuses: "
            + ", ".join(f"{c.name} {s}" for c, s in HTTP_STATUS.items() if s != 200),
        },
        "security": [{"mutualTLS": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "mutualTLS": {
                    "type": "mutualTLS",
                    "description": "A client certificate of the hub's client CA.",
                }
            },
        },
    }


def served_services() -> list[Any]:
    """The services the gateway serves (only those whose methods declare HTTP rules)."""
    from tonglian.v1 import query_pb2

    return [query_pb2.DESCRIPTOR.services_by_name["Query"]]


def main() -> None:
    text = json.dumps(document(bindings(served_services())), indent=2, ensure_ascii=False)
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
