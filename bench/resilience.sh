#!/usr/bin/env bash
# make resilience: faults under load against a throwaway PostgreSQL cluster (bench/resilience.py).
#
# This wrapper owns the temporary folder and is the backstop for cleaning up: whatever the
# Python side leaves behind after a crash or a timeout (gunicorn instances it recorded in pid
# files, the cluster in the folder) is ended here, by pid or by data directory, never by name.
# Bounded: the run is stopped after RESILIENCE_TIMEOUT seconds (default 235).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
LIMIT=${RESILIENCE_TIMEOUT:-235}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
export PG_BIN

if [ ! -x "$PG_BIN/initdb" ]; then
  echo "resilience: PostgreSQL binaries not found (set PG_BIN)" >&2
  exit 2
fi
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  echo "resilience: running as root needs a 'postgres' user to own the cluster" >&2
  exit 2
fi

work=$(mktemp -d /tmp/ledger-resilience.XXXXXX)

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local pidfile pid
  for pidfile in "$work"/*.gunicorn.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    # Only if that pid is still one of our gunicorn masters (its own process group).
    if grep -q gunicorn "/proc/$pid/cmdline" 2>/dev/null; then
      echo "resilience: cleanup: ending gunicorn $pid" >&2
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
  done
  if [ -f "$work/pg/data/postmaster.pid" ]; then
    echo "resilience: cleanup: stopping the throwaway cluster" >&2
    if [ "$(id -u)" -eq 0 ]; then
      runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
    else
      "$PG_BIN/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
    fi
  fi
  # Logs (gunicorn, postgres) survive a missed target or RESILIENCE_KEEP_LOGS=1.
  if [ "$rc" -ne 0 ] || [ -n "${RESILIENCE_KEEP_LOGS:-}" ]; then
    local keep
    keep=bench/results/resilience-$(date +%Y%m%dT%H%M%S)
    mkdir -p "$keep"
    cp "$work"/*.log "$work"/pg/postgres.log "$keep"/ 2>/dev/null || true
    echo "resilience: logs kept in $keep" >&2
  fi
  rm -rf "$work"
  exit "$rc"
}
child=
# Ctrl-C or TERM: ask the Python side to stop (it cleans up in its finally blocks), give it up
# to 20 s, then the EXIT trap ends whatever is left.
on_signal() {
  trap - INT TERM
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null || true
    for _ in $(seq 100); do
      kill -0 "$child" 2>/dev/null || break
      sleep 0.2
    done
  fi
  exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

start=$(date +%s)
rc=0
# In the background and waited for, so that the traps above run at once on a signal (bash
# defers traps until a foreground command ends). timeout forwards TERM to Python; -k 10: a
# Python that ignores it is killed 10 s later.
timeout -k 10 "$LIMIT" "$PY" bench/resilience.py --workdir "$work" \
  --budget $((LIMIT - 20)) "$@" &
child=$!
wait "$child" || rc=$?
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "resilience: stopped after the ${LIMIT} s limit" >&2
fi
echo "resilience: wall time $(($(date +%s) - start)) s"
exit "$rc"
