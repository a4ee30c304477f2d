"""Link headers never echo the request's Host: a shared cache could store a link to an attacker's
host and give it to every sync client. Absolute under PUBLIC_URL, relative without it."""

from __future__ import annotations

import re

import pytest

from tests.scenario import party, violation_body

HOSTILE = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}


def _next(resp) -> str:
    match = re.fullmatch(r'<([^>]+)>; rel="next"', resp.headers["Link"])
    assert match, resp.headers["Link"]
    return match.group(1)


def _pages(caller):
    for _ in range(2):
        party(caller)
        assert caller.post("/v1/violations", json=violation_body()).status_code == 201
    return {
        "/v1/parties": caller.get("/v1/parties?limit=1", headers=HOSTILE),
        "/v1/violations": caller.get("/v1/violations?limit=1&status=reported", headers=HOSTILE),
        "/v1/changes": caller.get("/v1/changes?limit=1", headers=HOSTILE),
    }


def test_links_are_relative_without_public_url(reporter):
    for path, resp in _pages(reporter).items():
        assert resp.status_code == 200, resp.get_json()
        link = _next(resp)
        assert "evil.example" not in link
        assert link.startswith(path + "?"), link


@pytest.mark.parametrize("public_url", ["https://ledger.example.org", "https://ngo.example/ledger/"])
def test_links_start_at_public_url(make_app, make_caller, public_url):
    from tests.conftest import Caller

    configured = make_app(PUBLIC_URL=public_url.rstrip("/"))
    caller = make_caller("reporter")
    caller = Caller(configured.test_client(), caller.key, caller.org, caller.role)
    for path, resp in _pages(caller).items():
        link = _next(resp)
        assert "evil.example" not in link
        assert link.startswith(public_url.rstrip("/") + path + "?"), link


def test_public_url_from_the_environment(monkeypatch):
    from service import config

    monkeypatch.setenv("PUBLIC_URL", "https://ledger.example.org/")
    assert config.from_env()["PUBLIC_URL"] == "https://ledger.example.org"
    monkeypatch.delenv("PUBLIC_URL")
    assert config.from_env()["PUBLIC_URL"] is None
