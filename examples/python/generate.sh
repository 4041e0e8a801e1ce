#!/usr/bin/env bash
# Generates the Python stubs from protos/ into examples/python/gen/.
# Uses protoc + grpc_python_plugin (Debian: protobuf-compiler, protobuf-compiler-grpc) when
# present, else `python3 -m grpc_tools.protoc` (pip: grpcio-tools).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
protos="$here/../../protos"
out="$here/gen"
python="${PYTHON:-/usr/bin/python3}"
rm -rf "$out" && mkdir -p "$out"
files=(taskbudgets/v1/budget.proto taskbudgets/v1/budget_service.proto google/api/annotations.proto google/api/http.proto)
if command -v protoc >/dev/null && command -v grpc_python_plugin >/dev/null; then
  protoc -I "$protos" --python_out="$out" \
    --plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" --grpc_python_out="$out" "${files[@]}"
else
  "$python" -m grpc_tools.protoc -I "$protos" --python_out="$out" --grpc_python_out="$out" "${files[@]}"
fi
echo "generated $(find "$out" -name '*.py' | wc -l) modules in $out"
