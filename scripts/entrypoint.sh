#!/bin/sh
# The image's entry point: the operator commands by name; anything else runs as given.
#   migrate              apply the schema to DATABASE_URL (alembic upgrade head), once per release
#   seed                 load seeds/ (the source article's events); twice is the same as once
#   create-key ORG ROLE  a new key for ORG (created if new); the key alone on the last line
#   serve                gunicorn on BIND, by default 0.0.0.0:$PORT (PORT 8000); needs SECRET_KEY
#   healthcheck          exit 0 when /healthz answers on the port serve listens on
# The same commands work outside the image from a checkout, with the venv's bin/ on PATH.
set -eu
cd "$(dirname "$0")/.."

usage() { sed -n '2,7s/^# //p' "$0"; }

# The port serve listens on: BIND's when set, else PORT's, else 8000.
listen_port() {
  if [ -n "${BIND:-}" ]; then echo "${BIND##*:}"; else echo "${PORT:-8000}"; fi
}

cmd="${1:-serve}"
[ "$#" -gt 0 ] && shift

case "$cmd" in
  migrate)
    exec alembic upgrade head
    ;;
  seed)
    exec flask --app service seed
    ;;
  create-key)
    if [ "$#" -ne 2 ]; then
      echo "usage: create-key ORG ROLE   (ROLE: reader, reporter, verifier or admin)" >&2
      exit 2
    fi
    exec flask --app service keys create --org "$1" --role "$2"
    ;;
  serve)
    # Without it each instance would make its own, and a page cursor signed by one would be
    # refused by the next.
    if [ -z "${SECRET_KEY:-}" ]; then
      echo "serve: SECRET_KEY is not set; give every instance the same long random value" \
           "(e.g. openssl rand -hex 32)" >&2
      exit 2
    fi
    BIND="${BIND:-0.0.0.0:${PORT:-8000}}"
    export BIND
    exec gunicorn -c gunicorn.conf.py service.wsgi:app
    ;;
  healthcheck)
    # The image has no curl; urlopen fails (non-zero exit) on a refused connection and on HTTP >= 400.
    exec python -c 'import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=4)' "$(listen_port)"
    ;;
  help | -h | --help)
    usage
    ;;
  *)
    exec "$cmd" "$@"
    ;;
esac
