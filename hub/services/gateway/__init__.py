"""The HTTP/JSON gateway: the agency calls of tonglian.v1.Query over HTTPS and JSON.

The routes come from the `google.api.http` rules in proto/tonglian/v1/query.proto
(`bindings`), never written per method; each request is turned into the method's protobuf
request and run through the SAME interceptors and servicer as a gRPC call (`calls`), so
the principal, policy, purposes, audit events, action names and limits are those of gRPC.
docs/gateway.md describes the routes, errors and examples.
"""
