"""The HTTP routes the protos declare: one `Binding` per `google.api.http` rule.

Read from the service descriptors at start (and by the OpenAPI generator at build time),
so the protos stay the one source of the gateway's paths. A path template's variables
(`{ref.chain_id}`) name request fields by their dotted path; `body: "*"` takes the JSON
body as the request, `body: "FIELD"` as that field; every other field may come from the
query string. `response_body` answers one field of the response: the gateway serves it
as protobuf bytes (the proof bundle `tonglian verify` reads), or JSON when asked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from google.api import annotations_pb2, http_pb2
from google.protobuf.descriptor import Descriptor, MethodDescriptor, ServiceDescriptor

_VARIABLE = re.compile(r"\{([A-Za-z0-9_.]+)(?:=([^}]*))?\}")
VERBS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class Binding:
    method: MethodDescriptor
    verb: str
    # As the proto declares it, e.g. /v1/chains/{ref.chain_id}/records.
    template: str
    body: str
    response_body: str
    # 0 for the method's rule, 1.. for its additional_bindings.
    index: int = 0

    @property
    def grpc_method(self) -> str:
        """The full gRPC method name the access interceptor and metrics know."""
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def streaming(self) -> bool:
        return bool(self.method.server_streaming)

    @property
    def variables(self) -> list[str]:
        """The dotted request fields the path carries, in order."""
        return [m.group(1) for m in _VARIABLE.finditer(self.template)]

    @property
    def route(self) -> str:
        """The template as an aiohttp route: `{ref.chain_id}` -> `{ref__chain_id}`; a
        `{field=**}` variable takes the rest of the path."""

        def name(match: re.Match[str]) -> str:
            var = match.group(1).replace(".", "__")
            return f"{{{var}:.+}}" if match.group(2) == "**" else f"{{{var}}}"

        return _VARIABLE.sub(name, self.template)

    @property
    def openapi_path(self) -> str:
        """The template as an OpenAPI path: `{ref.chain_id}` stays, `=**` is dropped."""
        return _VARIABLE.sub(lambda m: f"{{{m.group(1)}}}", self.template)

    @property
    def input(self) -> Descriptor:
        message: Descriptor = self.method.input_type
        return message

    @property
    def output(self) -> Descriptor:
        message: Descriptor = self.method.output_type
        return message


def _rules(method: MethodDescriptor) -> Iterator[http_pb2.HttpRule]:
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        return
    rule: http_pb2.HttpRule = options.Extensions[annotations_pb2.http]
    yield rule
    yield from rule.additional_bindings


def _binding(method: MethodDescriptor, rule: http_pb2.HttpRule, index: int) -> Binding:
    pattern = rule.WhichOneof("pattern")
    if pattern not in VERBS:
        raise ValueError(f"{method.full_name}: HTTP rule {pattern!r} is not served")
    template = str(getattr(rule, pattern))
    binding = Binding(method, pattern, template, rule.body, rule.response_body, index)
    for path in binding.variables:
        field_path(method.input_type, path)  # raises on a typo in the proto
    if rule.body not in ("", "*"):
        field_path(method.input_type, rule.body)
    if rule.response_body:
        field_path(method.output_type, rule.response_body)
    return binding


def bindings(services: Iterable[ServiceDescriptor]) -> list[Binding]:
    """Every HTTP binding the services' methods declare, in declaration order."""
    return [
        _binding(method, rule, index)
        for service in services
        for method in service.methods
        for index, rule in enumerate(_rules(method))
    ]


def field_path(message: Descriptor, path: str) -> list[str]:
    """`path` split into field names, checked against `message`'s descriptor."""
    names = path.split(".")
    current: Descriptor | None = message
    for name in names:
        if current is None or name not in current.fields_by_name:
            raise ValueError(f"{message.full_name} has no field {path!r}")
        current = current.fields_by_name[name].message_type
    return names
