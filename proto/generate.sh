#!/usr/bin/env bash
# Generates the Python bindings of proto/tonglian/v1 into OUT (default proto/gen).
# `proto/generate.sh --check` regenerates into a temporary folder and fails when
# the committed bindings differ: the protos and proto/gen never drift apart.
# google/api/{annotations,http}.proto (the HTTP rules of the gateway) are read from the
# installed googleapis-common-protos (proto/third_party.sh lays them out). The gateway's OpenAPI
# document (hub/services/gateway/openapi.json) is generated from the bindings here too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python}
check=0
if [ "${1:-}" = "--check" ]; then check=1; out=$(mktemp -d); else out=${1:-$here/gen}; fi
PYTHON=$py "$here/third_party.sh"
plugin=$(dirname "$(command -v "$py")")/protoc-gen-mypy
grpc_plugin=$(dirname "$(command -v "$py")")/protoc-gen-mypy_grpc
rm -rf "$out/tonglian"
mkdir -p "$out"
(cd "$here" && "$py" -m grpc_tools.protoc -I . -I third_party \
  --python_out="$out" --grpc_python_out="$out" \
  --plugin=protoc-gen-mypy="$plugin" --mypy_out="$out" \
  --plugin=protoc-gen-mypy_grpc="$grpc_plugin" --mypy_grpc_out="$out" \
  tonglian/v1/*.proto 2> >(grep -v "^Writing mypy" >&2))
touch "$out/tonglian/__init__.py" "$out/tonglian/v1/__init__.py" "$out/tonglian/py.typed"
openapi=$here/../hub/services/gateway/openapi.json
[ $check = 1 ] && openapi_out=$out/openapi.json || openapi_out=$openapi
PYTHONPATH="$out:$here/..${PYTHONPATH:+:$PYTHONPATH}" "$py" -m hub.services.gateway.openapi >"$openapi_out"
if [ $check = 1 ]; then
  if ! diff -r "$out/tonglian" "$here/gen/tonglian" >/dev/null; then
    echo "proto/gen is out of date: run 'make proto' and commit the result" >&2
    diff -r "$out/tonglian" "$here/gen/tonglian" | head -40 >&2
    rm -rf "$out"; exit 1
  fi
  if ! diff "$openapi_out" "$openapi" >/dev/null; then
    echo "hub/services/gateway/openapi.json is out of date: run 'make proto' and commit it" >&2
    diff "$openapi_out" "$openapi" | head -40 >&2
    rm -rf "$out"; exit 1
  fi
  rm -rf "$out"; echo "proto/gen and the gateway's openapi.json are in sync with proto/tonglian/v1"
fi
