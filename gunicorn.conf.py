"""Gunicorn settings for service.wsgi:app (used by `make run` and the Docker image)."""

import os

# Always set bind: without it gunicorn binds 0.0.0.0:$PORT whenever PORT is set.
# Loopback by default; the Docker image sets BIND=0.0.0.0:8000.
bind = os.environ.get("BIND") or f"127.0.0.1:{os.environ.get('PORT') or '8000'}"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
# Threads (gthread workers) keep the worker heartbeat going while a thread streams a long
# export, so a million-row export is not killed at the timeout as a sync worker would be.
threads = int(os.environ.get("GUNICORN_THREADS") or 4)
# Each worker builds its own app, so no engine or connection pool is inherited from the master.
preload_app = False
timeout = 120  # streamed exports of large result sets take long
# Longest request line gunicorn takes (its default is 4094). Every query string the spec allows
# must fit: free text of up to 200 characters is up to 2,400 bytes once percent-encoded, and the
# violation filters have two such (q, admin1). tests/test_spec_agreement.py keeps this true.
limit_request_line = 8190
graceful_timeout = 30
# The app logs each request as JSON itself; gunicorn's access log would also record
# query strings.
accesslog = None
errorlog = "-"
# Trust X-Forwarded-* only from these proxies (gunicorn's own default is loopback only).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1,::1"
# Heartbeat files on a container's overlay filesystem can stall workers; use RAM when available.
# (gunicorn creates them with mkstemp, so a shared directory is safe.)
if os.path.isdir("/dev/shm"):  # noqa: S108
    worker_tmp_dir = "/dev/shm"  # noqa: S108


def post_fork(server, worker):
    """Drop any pooled connections inherited from the master (relevant if preload is turned on)."""
    try:
        from service.db import dispose_engine
    except (ImportError, AttributeError):
        return
    dispose_engine()

# gunicorn's control socket defaults to one path per user; two instances on one machine would
# fight over it, and nothing here uses it.
control_socket_disable = True


def _without_server_banner():
    """gunicorn writes `Server: gunicorn` on every answer and has no setting to leave it out; a
    banner only tells a scanner what to try. Patched here, in the master, before workers fork."""
    from gunicorn.http import wsgi

    default_headers = wsgi.Response.default_headers
    if getattr(default_headers, "_no_banner", False):
        return

    def headers(self):
        return [h for h in default_headers(self) if not h.lower().startswith("server:")]

    headers._no_banner = True
    wsgi.Response.default_headers = headers


_without_server_banner()
