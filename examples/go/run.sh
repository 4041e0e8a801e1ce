#!/usr/bin/env bash
# Builds and runs the example offline, with the Go toolchain and libraries Debian 12 packages
# (golang-go, golang-google-grpc-dev, golang-google-protobuf-dev, golang-google-genproto-dev,
# protobuf-compiler, protoc-gen-go, protoc-gen-go-grpc), in GOPATH mode: Debian installs the
# libraries' sources under /usr/share/gocode, and no module proxy is needed.
# Online, the usual way is module mode: ./generate.sh && go mod tidy && go run .
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/generate.sh" >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/example.com/taskbudgets/examples"
cp -r "$here" "$work/src/example.com/taskbudgets/examples/go"
(cd "$work/src/example.com/taskbudgets/examples/go" &&
  GO111MODULE=off GOPATH="$work:/usr/share/gocode" GOFLAGS= go build -o "$work/client" .)
"$work/client"
