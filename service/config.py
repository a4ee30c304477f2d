"""Configuration read from the environment, with development defaults."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def default_database_url() -> str:
    return f"sqlite:///{ROOT / 'instance' / 'ledger.db'}"


def from_env() -> dict:
    """Settings a deployment changes without touching code."""
    return {
        "DATABASE_URL": os.environ.get("DATABASE_URL") or default_database_url(),
        "PUBLIC_READS": _bool(os.environ.get("PUBLIC_READS")),
        "RATE_LIMIT": os.environ.get("RATE_LIMIT", "1200/minute"),
        "AUTH_FAILURE_LIMIT": os.environ.get("AUTH_FAILURE_LIMIT", "30/minute"),
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_BODY_BYTES", str(1024 * 1024))),
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        # Proxies whose X-Forwarded-For names the client (gunicorn.conf.py trusts the same).
        "FORWARDED_ALLOW_IPS": os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1,::1",
        # Where clients reach the service (https://ledger.example.org); absolute links start
        # there. Unset, links are relative: never built from the request's Host header.
        "PUBLIC_URL": (os.environ.get("PUBLIC_URL") or "").rstrip("/") or None,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or None,
        # Bearer token a Prometheus scraper presents for /metrics; unset, /metrics is open.
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN") or None,
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
    }
