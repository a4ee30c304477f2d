"""Prometheus metrics for requests; the route template, never the concrete path, is a label."""

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

REQUESTS = Counter(
    "ledger_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "ledger_http_request_duration_seconds", "Time to answer a request", ["method", "route"]
)


def render() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
