"""Per-key rate limits (Flask-Limiter; Redis when REDIS_URL is set, so instances share counts)
and a per-address limit on failed authentications."""

from __future__ import annotations

import hashlib
import ipaddress
import time

from flask import Flask, current_app, request
from flask_limiter import Limiter
from limits import parse
from werkzeug.middleware.proxy_fix import ProxyFix

from .errors import problem


def _caller() -> str:
    # The key is hashed: counters in Redis must not hold usable secrets.
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return "key:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()[:32]
    return "addr:" + (request.remote_addr or "unknown")


def _exempt() -> bool:
    return not request.path.startswith("/v1/")


def init_app(app: Flask) -> Limiter:
    rate = str(app.config.get("RATE_LIMIT") or "0").strip()
    enabled = rate not in ("0", "off", "none", "")
    app.config.update(
        RATELIMIT_ENABLED=enabled,
        RATELIMIT_DEFAULT=rate if enabled else None,
        RATELIMIT_STORAGE_URI=app.config.get("REDIS_URL") or "memory://",
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_KEY_PREFIX="ledger",
        # When Redis is unreachable, count in memory rather than refuse every request.
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
    )

    # Registered before the limiter: after_request hooks run in reverse, so this sees the
    # headers the limiter adds.
    @app.after_request
    def _retry_after(response):
        # Flask-Limiter puts Retry-After on every answer it counts; it means "you were refused,
        # try again then" (RFC 9110), so only a 429 or a 503 carries it.
        if response.status_code not in (429, 503):
            response.headers.pop("Retry-After", None)
        # The window's reset rounds down to 0 in its last second; "retry after 0" invites a
        # client to hammer, so the least we ask is one second.
        elif response.status_code == 429 and response.headers.get("Retry-After") == "0":
            response.headers["Retry-After"] = "1"
        return response

    limiter = Limiter(
        key_func=_caller,
        default_limits_exempt_when=_exempt,
        app=app,
    )
    app.extensions["ledger.limiter"] = limiter

    app.extensions["ledger.auth_limit"] = parse(app.config["AUTH_FAILURE_LIMIT"])
    return limiter


class TrustedProxy:
    """WSGI middleware: the client's address as the trusted proxy reports it.

    Behind a proxy every request comes from the proxy's address, so one counter would hold
    everyone's failures. A request whose peer is one of FORWARDED_ALLOW_IPS (the proxies
    gunicorn.conf.py trusts too) takes its address from the last X-Forwarded-For entry, the one
    that proxy added (werkzeug's ProxyFix); from any other peer the header is ignored, since a
    client could name any address there.
    """

    def __init__(self, wsgi_app, trusted: str):
        self.app = wsgi_app
        self.fixed = ProxyFix(wsgi_app, x_for=1, x_proto=0, x_host=0, x_port=0, x_prefix=0)
        entries = [e.strip() for e in trusted.split(",") if e.strip()]
        self.anyone = "*" in entries
        self.networks = [ipaddress.ip_network(e, strict=False) for e in entries if e != "*"]

    def trusts(self, peer: str | None) -> bool:
        if self.anyone or not peer:  # no address: a UNIX socket, as gunicorn sees it
            return True
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def __call__(self, environ, start_response):
        handler = self.fixed if self.trusts(environ.get("REMOTE_ADDR")) else self.app
        return handler(environ, start_response)


def _auth_failure_key() -> str:
    return request.remote_addr or "unknown"


def note_auth_failure():
    """Counts a failed authentication of the client's address; a 429 to give instead of the 401
    once that address has failed too often lately (AUTH_FAILURE_LIMIT).

    Only failures meet this limit, after the key was looked up: a valid key is never refused by
    it, so one broken script behind an office's shared address locks nobody else out. The
    counters live in the rate limiter's storage, Redis when REDIS_URL is set, so every worker
    and instance counts the same failures.
    """
    if not current_app.config.get("RATELIMIT_ENABLED"):
        return None
    limiter: Limiter = current_app.extensions["ledger.limiter"]
    item = current_app.extensions["ledger.auth_limit"]
    try:
        if limiter.limiter.hit(item, "auth-failures", _auth_failure_key()):
            return None
        reset, _remaining = limiter.limiter.get_window_stats(
            item, "auth-failures", _auth_failure_key()
        )
    except Exception:  # storage trouble must not lock everyone out
        return None
    resp = problem(429, "Too many requests", "Too many failed authentications; wait and retry.")
    resp.headers["Retry-After"] = str(max(1, int(reset - time.time())))
    return resp
