"""An HTTP request as the protobuf request of its method: path variables, query string
and JSON body, by the rule that `Binding` carries.

What cannot become the message (JSON that does not parse, an unknown field, a number
that is not one) raises `NotARequest` with a text a person can act on; the gateway hands
it to the access interceptor as a MalformedRequest, which refuses and audits it as it
does a gRPC request that does not parse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.json_format import ParseDict, ParseError
from google.protobuf.message import Message

from hub.services.gateway.bindings import Binding, field_path


class NotARequest(ValueError):
    """The HTTP request cannot be the method's request message; the text says why."""


def _scalar(field: FieldDescriptor, text: str, name: str) -> Any:
    """A query-string value as the JSON value ParseDict takes for `field`."""
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        raise NotARequest(f"query parameter {name!r} names a message; give its fields")
    if field.cpp_type in (
        FieldDescriptor.CPPTYPE_INT32,
        FieldDescriptor.CPPTYPE_INT64,
        FieldDescriptor.CPPTYPE_UINT32,
        FieldDescriptor.CPPTYPE_UINT64,
    ):
        if not text.lstrip("-").isdigit():
            raise NotARequest(f"query parameter {name!r} must be an integer, got {text!r}")
        return int(text)
    if field.cpp_type == FieldDescriptor.CPPTYPE_BOOL:
        if text not in ("true", "false"):
            raise NotARequest(f"query parameter {name!r} must be true or false, got {text!r}")
        return text == "true"
    return text


def _field(message: Descriptor, path: str) -> FieldDescriptor:
    names = field_path(message, path)
    current = message
    for name in names[:-1]:
        current = current.fields_by_name[name].message_type
    found: FieldDescriptor = current.fields_by_name[names[-1]]
    return found


def _put(tree: dict[str, Any], path: str, value: Any) -> None:
    names = path.split(".")
    for name in names[:-1]:
        inner = tree.setdefault(name, {})
        if not isinstance(inner, dict):
            raise NotARequest(f"field {name!r} must be an object")
        tree = inner
    tree[names[-1]] = value


def _query_fields(binding: Binding, query: Mapping[str, list[str]], tree: dict[str, Any]) -> None:
    if query and binding.body == "*":
        raise NotARequest(
            f"{binding.template} takes every field in its JSON body, not in the query string "
            f"(got {', '.join(sorted(query))})"
        )
    for name, values in query.items():
        if name in binding.variables:
            raise NotARequest(f"{name!r} is part of the path; do not repeat it in the query")
        try:
            field = _field(binding.input, name)
        except ValueError:
            raise NotARequest(
                f"unknown query parameter {name!r}: {binding.input.full_name} has no such "
                "field (docs/gateway.md lists each route's fields)"
            ) from None
        if field.label == FieldDescriptor.LABEL_REPEATED:
            _put(tree, name, [_scalar(field, v, name) for v in values])
        elif len(values) > 1:
            raise NotARequest(f"query parameter {name!r} is given {len(values)} times")
        else:
            _put(tree, name, _scalar(field, values[0], name))


def _body(binding: Binding, raw: bytes) -> Any:
    if not raw.strip():
        raise NotARequest(f"{binding.template} needs a JSON body ({binding.input.full_name})")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotARequest(f"the request body is not JSON: {exc}") from None


def path_message(
    binding: Binding, path_values: Mapping[str, str], message_type: type[Message]
) -> Message:
    """Only what the path names: what a refused request's audit event is about."""
    tree: dict[str, Any] = {}
    for path in binding.variables:
        _put(tree, path, path_values[path])
    return ParseDict(tree, message_type())


def request_message(
    binding: Binding,
    path_values: Mapping[str, str],
    query: Mapping[str, list[str]],
    raw_body: bytes,
    message_type: type[Message],
) -> Message:
    """The method's request: the body (by `binding.body`), then the query string, then
    the path variables (which win: they name what the call is about)."""
    tree: dict[str, Any] = {}
    if binding.body:
        body = _body(binding, raw_body)
        if binding.body == "*":
            if not isinstance(body, dict):
                raise NotARequest(
                    f"the request body must be a JSON object ({binding.input.full_name})"
                )
            tree = body
        else:
            _put(tree, binding.body, body)
    elif raw_body.strip():
        raise NotARequest(f"{binding.verb.upper()} {binding.template} takes no body")
    _query_fields(binding, query, tree)
    for path in binding.variables:
        _put(tree, path, path_values[path])
    try:
        return ParseDict(tree, message_type())
    except ParseError as exc:
        raise NotARequest(f"the request is not a {binding.input.full_name}: {exc}") from None
