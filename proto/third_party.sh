#!/usr/bin/env bash
# Lays google/api/{annotations,http}.proto (the HTTP rules of the gateway) into
# proto/third_party, from the googleapis-common-protos package installed in the venv,
# which also brings their Python. The folder is ignored by git: nothing of theirs is
# committed here; protoc and buf read it from there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python}
google_api=$("$py" -c 'import os; from google.api import annotations_pb2 as a; print(os.path.dirname(a.__file__))')
mkdir -p "$here/third_party/google/api"
for f in annotations.proto http.proto; do
  cp "$google_api/$f" "$here/third_party/google/api/$f"
done
