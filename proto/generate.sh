#!/usr/bin/env bash
# Generates the Python bindings of proto/tonglian/v1 into OUT (default proto/gen).
# `proto/generate.sh --check` regenerates into a temporary folder and fails when
# the committed bindings differ: the protos and proto/gen never drift apart.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python}
check=0
if [ "${1:-}" = "--check" ]; then check=1; out=$(mktemp -d); else out=${1:-$here/gen}; fi
plugin=$(dirname "$(command -v "$py")")/protoc-gen-mypy
grpc_plugin=$(dirname "$(command -v "$py")")/protoc-gen-mypy_grpc
rm -rf "$out/tonglian"
mkdir -p "$out"
(cd "$here" && "$py" -m grpc_tools.protoc -I . \
  --python_out="$out" --grpc_python_out="$out" \
  --plugin=protoc-gen-mypy="$plugin" --mypy_out="$out" \
  --plugin=protoc-gen-mypy_grpc="$grpc_plugin" --mypy_grpc_out="$out" \
  tonglian/v1/*.proto 2> >(grep -v "^Writing mypy" >&2))
touch "$out/tonglian/__init__.py" "$out/tonglian/v1/__init__.py" "$out/tonglian/py.typed"
if [ $check = 1 ]; then
  if ! diff -r "$out/tonglian" "$here/gen/tonglian" >/dev/null; then
    echo "proto/gen is out of date: run 'make proto' and commit the result" >&2
    diff -r "$out/tonglian" "$here/gen/tonglian" | head -40 >&2
    rm -rf "$out"; exit 1
  fi
  rm -rf "$out"; echo "proto/gen is in sync with proto/tonglian/v1"
fi
