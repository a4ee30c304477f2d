#!/usr/bin/env bash
# `make bench`: installs what the benchmarks need, then runs bench/http_bench.py.
#   N=100000 (default) | N=1000000    rows of the main comparison
#   SCALE_1M=1                        adds the 1M point to the scale table (several minutes)
#   WRK_THREADS/WRK_CONNECTIONS/WRK_DURATION (2/16/15s), WEB_CONCURRENCY (2), PROFILE=1,
#   BENCH_REUSE=1 (reuse databases of an earlier run), BENCH_STRICT=1 (exit 1 on a missed target)
#   VERIFY_ENTRIES=1000000            audit entries of bench/verify_bench.py, which runs last
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust); creates and replaces only databases
# named ledger_bench_<N>. All traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python

if [ ! -x "$PY" ]; then
  echo "bench: $PY is missing; run 'make install' (make bench does it first)" >&2
  exit 1
fi

# wrk, from Debian.
if ! command -v wrk >/dev/null 2>&1; then
  echo "bench: installing wrk (apt-get)"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get install -y -qq wrk >/dev/null 2>&1 || {
    $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq wrk >/dev/null; }
fi
command -v curl >/dev/null 2>&1 || { echo "bench: curl is needed" >&2; exit 1; }

# Datasette and py-spy in a venv of their own, from the pinned list; reinstalled when it changes.
DS=bench/.venv-datasette
REQ=bench/requirements-datasette.txt
if [ ! -x "$DS/bin/python" ]; then
  python3 -m venv "$DS"
fi
echo '*' > "$DS/.gitignore"   # the venv stays out of git (bench/results/ is ignored already)
if ! cmp -s "$REQ" "$DS/.installed" 2>/dev/null; then
  echo "bench: installing $REQ into $DS"
  "$DS/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
  cp "$REQ" "$DS/.installed"
fi

psql_ok=$("$PY" - <<'PY'
import psycopg
try:
    psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=5).close()
    print("ok")
except Exception as exc:
    print(exc)
PY
)
if [ "$psql_ok" != "ok" ]; then
  echo "bench: PostgreSQL on 127.0.0.1:5432 is not reachable: $psql_ok" >&2
  exit 1
fi

mkdir -p bench/results
"$PY" bench/http_bench.py
# The audit chain's verification at a million entries (VERIFY_ENTRIES to change).
exec "$PY" bench/verify_bench.py
