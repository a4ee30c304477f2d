# Ceasefire Ledger production image.
#   docker build -t ceasefire-ledger .
#   Migrations are their own step, run once per release before starting the new image:
#     docker run --rm -e DATABASE_URL=postgresql+psycopg://... ceasefire-ledger alembic upgrade head
#   docker run -p 8000:8000 -e DATABASE_URL=postgresql+psycopg://... ceasefire-ledger
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN groupadd --system ledger \
 && useradd --system --gid ledger --home-dir /app --shell /usr/sbin/nologin ledger

WORKDIR /app

# Dependencies first so this layer is reused while only the code changes.
COPY requirements/runtime.lock requirements/runtime.lock
RUN pip install --no-cache-dir --require-hashes -r requirements/runtime.lock

# Code stays root-owned (read-only to the app); only instance/ is writable.
COPY . .
RUN mkdir -p /app/instance && chown ledger:ledger /app/instance

# In production DATABASE_URL points at PostgreSQL (postgresql+psycopg://user:pass@host/db).
# The SQLite default only suits a quick try, and then only with a volume on /app/instance
# shared by the migration step and the server.
ENV BIND=0.0.0.0:8000 \
    DATABASE_URL=sqlite:////app/instance/ledger.db

USER ledger
EXPOSE 8000

# slim has no curl; urlopen raises (non-zero exit) on connection errors and HTTP >= 400.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["gunicorn", "-c", "gunicorn.conf.py", "service.wsgi:app"]
