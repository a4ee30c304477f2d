#!/usr/bin/env bash
# `make run`: migrate, seed on first start, show the development admin key, serve on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
export FLASK_APP=service
export PORT="${PORT:-8000}"
# Dev server is loopback-only; BIND is the image's setting, never wanted here.
export BIND="127.0.0.1:${PORT}"
mkdir -p instance

# The markers below describe one database. With the default SQLite file that is instance/ledger.db:
# if the file is gone (deleted to start over), the markers are stale. Another DATABASE_URL gets
# its own markers, named by a hash of the URL (the URL may hold a password).
if [[ -z "${DATABASE_URL:-}" ]]; then
  suffix=""
  [[ -e instance/ledger.db ]] || rm -f instance/.seeded instance/dev-admin-key
else
  suffix="-$(printf '%s' "$DATABASE_URL" | sha256sum | cut -c1-12)"
fi
seeded="instance/.seeded${suffix}"
keyfile="instance/dev-admin-key${suffix}"

echo "==> alembic upgrade head"
"$BIN/alembic" upgrade head

if [[ ! -e "$seeded" ]]; then
  echo "==> loading seeds/ (first start)"
  "$BIN/flask" --app service seed
  touch "$seeded"
fi

if [[ ! -s "$keyfile" ]]; then
  echo "==> creating a development admin key (organisation dev, role admin)"
  # The command's own note (the key's id) would read like a second key here: shown only on failure.
  note="$(mktemp)"
  if ! key="$("$BIN/flask" --app service keys create --org dev --role admin \
                --label "make run" 2>"$note" | tail -n 1)" || [[ -z "$key" ]]; then
    cat "$note" >&2; rm -f "$note"
    echo "keys create printed no key" >&2
    exit 1
  fi
  rm -f "$note"
  (umask 077 && printf '%s\n' "$key" > "$keyfile")
  chmod 600 "$keyfile"
fi
echo "==> development admin key (organisation dev, role admin; kept in $keyfile):"
echo "    $(cat "$keyfile")"
echo "    send it as 'Authorization: Bearer <key>', or paste it into Authorize at /docs"
echo "==> serving on http://${BIND} (API docs at http://${BIND}/docs)"

exec "$BIN/gunicorn" -c gunicorn.conf.py service.wsgi:app
