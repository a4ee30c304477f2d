"""The failed-authentication limit slows down key guessing without locking anybody honest out:
a valid key always gets through, failures count per client address as the trusted proxy reports
it, and every instance counts the same failures when they share Redis."""

from __future__ import annotations

import os
import random
import uuid

import pytest

BAD = "Bearer cl_not-a-key"


def _address() -> str:
    """An address no other test (or earlier run sharing Redis) has used."""
    return f"198.51.{random.randint(0, 255)}.{random.randint(1, 254)}"


def _limited(make_app, **settings):
    return make_app(RATE_LIMIT="1000/second", AUTH_FAILURE_LIMIT="3/minute", **settings)


def _via_proxy(address: str) -> dict:
    # The test client's peer is 127.0.0.1, the default trusted proxy (FORWARDED_ALLOW_IPS).
    return {"X-Forwarded-For": address}


def test_a_valid_key_gets_through_from_an_address_over_the_limit(make_app, make_caller):
    client = _limited(make_app).test_client()
    office = _via_proxy(_address())
    statuses = [
        client.get("/v1/parties", headers={**office, "Authorization": BAD}).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 3 + [429] * 3
    honest = make_caller("reader")
    resp = client.get("/v1/parties", headers={**office, "Authorization": f"Bearer {honest.key}"})
    assert resp.status_code == 200, resp.get_json()
    # The broken script behind the same address is still refused.
    assert client.get("/v1/parties", headers={**office, "Authorization": BAD}).status_code == 429


def test_failures_count_per_client_address_from_the_trusted_proxy(make_app):
    client = _limited(make_app).test_client()
    first, second = _via_proxy(_address()), _via_proxy(_address())
    for _ in range(4):
        client.get("/v1/parties", headers={**first, "Authorization": BAD})
    assert client.get("/v1/parties", headers={**first, "Authorization": BAD}).status_code == 429
    assert client.get("/v1/parties", headers={**second, "Authorization": BAD}).status_code == 401


def test_forwarded_for_from_an_untrusted_peer_is_ignored(make_app):
    client = _limited(make_app).test_client()
    peer = {"REMOTE_ADDR": _address()}
    for i in range(4):
        # A client that names another address on each try is still one address.
        headers = {"X-Forwarded-For": _address(), "Authorization": BAD}
        resp = client.get("/v1/parties", headers=headers, environ_base=peer)
        assert resp.status_code == (401 if i < 3 else 429), i


def _redis_url() -> str | None:
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:
        return None
    return url


def test_instances_sharing_redis_count_the_same_failures(make_app, make_caller):
    url = _redis_url()
    if url is None:
        pytest.skip("no Redis reachable (REDIS_URL, else 127.0.0.1:6379)")
    one, two = (_limited(make_app, REDIS_URL=url).test_client() for _ in range(2))
    office = _via_proxy(_address())
    bad = {**office, "Authorization": BAD + uuid.uuid4().hex}
    assert [c.get("/v1/parties", headers=bad).status_code for c in (one, two, one)] == [401] * 3
    assert two.get("/v1/parties", headers=bad).status_code == 429
    assert one.get("/v1/parties", headers=bad).status_code == 429
    honest = make_caller("reader")
    ok = {**office, "Authorization": f"Bearer {honest.key}"}
    assert two.get("/v1/parties", headers=ok).status_code == 200
