#!/usr/bin/env bash
# Generates the Go stubs from protos/ into examples/go/gen/ with protoc, protoc-gen-go and
# protoc-gen-go-grpc (Debian: protobuf-compiler, protoc-gen-go, protoc-gen-go-grpc; or
# go install google.golang.org/protobuf/cmd/protoc-gen-go@latest and
# google.golang.org/grpc/cmd/protoc-gen-go-grpc@latest).
# The protos set no go_package, so the M options map them to this module's gen/ folder;
# google/api/annotations.proto maps to google.golang.org/genproto/googleapis/api/annotations.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
protos="$here/../../protos"
module=example.com/taskbudgets/examples/go
pkg="$module/gen/taskbudgets/v1;taskbudgetsv1"
map="Mtaskbudgets/v1/budget.proto=$pkg,Mtaskbudgets/v1/budget_service.proto=$pkg"
rm -rf "$here/gen" && mkdir -p "$here/gen"
protoc -I "$protos" \
  --go_out="$here/gen" --go_opt=paths=source_relative,"$map" \
  --go-grpc_out="$here/gen" --go-grpc_opt=paths=source_relative,"$map" \
  taskbudgets/v1/budget.proto taskbudgets/v1/budget_service.proto
echo "generated $(find "$here/gen" -name '*.go' | wc -l) files in $here/gen"
