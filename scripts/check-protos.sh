#!/usr/bin/env bash
# The proto contract: `buf lint` (STANDARD, protos/buf.yaml) and `buf breaking` (FILE) against
# the previous commit on main, so a breaking change to v1 cannot land by accident.
#
# Base commit: `git merge-base HEAD origin/main` (or the local `main` when there is no
# origin); where that is HEAD itself (CI's fresh clone of main), HEAD~1. A base without
# protos/ skips the breaking check, and says so. buf comes from npm (@bufbuild/buf, run with
# npx, installed on demand); BUF_VERSION overrides the pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."
buf_version="${BUF_VERSION:-1.75.0}"

buf() { npx --yes "@bufbuild/buf@$buf_version" "$@"; }

if ! command -v npx >/dev/null; then
  echo "check-protos: npx (Node.js) is missing; it runs buf" >&2
  exit 1
fi

echo "buf $(buf --version)"
echo "-- buf lint protos (STANDARD; google/ is vendored and ignored)"
buf lint protos
echo "lint: ok ($(find protos -name '*.proto' -not -path 'protos/google/*' | wc -l) files)"

base=""
for ref in origin/main main; do
  if git rev-parse --verify -q "$ref^{commit}" >/dev/null; then
    base=$(git merge-base HEAD "$ref" || true)
    [ -n "$base" ] && break
  fi
done
head=$(git rev-parse HEAD)
if [ -z "$base" ] || [ "$base" = "$head" ]; then
  # On main itself (CI's clone of the submitted main): compare with the commit before.
  base=$(git rev-parse -q --verify "HEAD~1^{commit}" || true)
fi

if [ -z "$base" ]; then
  echo "breaking: skipped, there is no previous commit to compare with (first commit, or a shallow clone)"
elif ! git cat-file -e "$base:protos" 2>/dev/null; then
  echo "breaking: skipped, base commit ${base:0:12} has no protos/ yet"
else
  echo "-- buf breaking protos --against .git#ref=${base:0:12},subdir=protos (FILE)"
  buf breaking protos --against ".git#ref=$base,subdir=protos"
  echo "breaking: ok, no breaking change against ${base:0:12}"
fi
echo "check-protos: succeeded"
