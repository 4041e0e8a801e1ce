module example.com/taskbudgets/examples/go

go 1.19

// The versions Debian 12 packages (golang-google-grpc-dev, golang-google-protobuf-dev),
// so the offline GOPATH build of run.sh and a module build agree. With newer
// protoc-gen-go / protoc-gen-go-grpc, raise them: go get google.golang.org/grpc@latest.
// `go mod tidy` (online) adds google.golang.org/genproto and writes go.sum.
require (
	google.golang.org/grpc v1.33.3
	google.golang.org/protobuf v1.28.1
)
