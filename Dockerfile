# Ceasefire Ledger production image: the runtime lock only, run as a non-root user.
#   docker build -t ceasefire-ledger .
#   compose.yaml runs it with PostgreSQL and Redis; the README's "Docker" section walks through it.
# Commands (scripts/entrypoint.sh): migrate | seed | create-key ORG ROLE | serve (the default)
#   | healthcheck, e.g. docker run --rm -e DATABASE_URL=... ceasefire-ledger migrate
# tests/test_image.py runs these commands from exactly the files copied below, outside Docker.

# Build stage: the virtualenv, from wheels only (every runtime package ships manylinux wheels
# for x86_64 and aarch64, so no compiler is needed, and none ends up in the image).
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
COPY requirements/runtime.lock /tmp/runtime.lock
RUN /opt/venv/bin/pip install --require-hashes --only-binary=:all: -r /tmp/runtime.lock

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    PORT=8000

RUN groupadd --system ledger \
 && useradd --system --gid ledger --home-dir /app --shell /usr/sbin/nologin ledger

COPY --from=build /opt/venv /opt/venv

# Code stays root-owned (read-only to the app); only instance/ is writable.
WORKDIR /app
COPY alembic.ini gunicorn.conf.py /app/
COPY migrations /app/migrations
COPY seeds /app/seeds
COPY service /app/service
COPY scripts/entrypoint.sh /app/scripts/entrypoint.sh
RUN mkdir -p /app/instance && chown ledger:ledger /app/instance

# In production DATABASE_URL points at PostgreSQL (postgresql+psycopg://user:pass@host/db) and
# SECRET_KEY is set, the same on every instance: serve refuses to start without it. The SQLite
# default only suits a quick try, with a volume on /app/instance shared by every step.
USER ledger
EXPOSE 8000

# On whatever port serve listens on (BIND, else PORT), not a fixed one.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/app/scripts/entrypoint.sh", "healthcheck"]

ENTRYPOINT ["/app/scripts/entrypoint.sh"]
CMD ["serve"]
