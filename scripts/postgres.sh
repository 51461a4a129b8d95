#!/usr/bin/env bash
# Start a private PostgreSQL server on loopback for the tests, installing Debian's
# postgresql first where it is missing. Writes scripts/test-services.env with its URL.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
port="${MLFLOW_COMPLIANCE_TEST_PG_PORT:-55432}"
data="${MLFLOW_COMPLIANCE_TEST_PG_DIR:-/tmp/mlflow-compliance-test-pg}"

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

if [ -z "$(pg_bin)" ]; then
  echo "postgres.sh: installing Debian's postgresql" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "postgres.sh: postgresql is missing and installing it needs root" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi
bin="$(pg_bin)"

# initdb refuses to run as root: run the server as the postgres user then.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if ! as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  rm -rf "$data"
  mkdir -p "$data"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$data"
  as_owner "$bin/initdb" -D "$data" -A trust -U postgres >/dev/null
  as_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
    -o "-p $port -k $data -c listen_addresses=127.0.0.1" start >/dev/null
fi
echo "export MLFLOW_COMPLIANCE_TEST_PG=postgresql://postgres@127.0.0.1:$port/postgres" \
  > "$here/test-services.env"
echo "postgres.sh: PostgreSQL on 127.0.0.1:$port" >&2
