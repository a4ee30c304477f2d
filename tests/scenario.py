"""Builders for the record scenarios: parties, an agreement, sources, violations through HTTP."""

from __future__ import annotations

from tests.conftest import unique
from tests.factories import AgreementPayload, PartyPayload


def party(caller, **kw) -> str:
    resp = caller.post("/v1/parties", json=PartyPayload(**kw))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def agreement(caller, **kw) -> dict:
    resp = caller.post("/v1/agreements", json=AgreementPayload(**kw))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def source(caller, **kw) -> str:
    body = {"kind": "news_article", "title": "A report", "publisher": unique("publisher")}
    body.update(kw)
    resp = caller.post("/v1/sources", json=body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def violation_body(**kw) -> dict:
    body = {
        "title": "Shelling of Halfaya",
        "category": "shelling",
        "occurred_at": "2018-11-09T00:00:00Z",
        "occurred_until": "2018-11-09T23:59:59Z",
        "date_precision": "day",
        "location": {
            "name": "Halfaya",
            "admin1": "Hama",
            "country": "SY",
            "lat": 35.2603,
            "lon": 36.6075,
            "precision": "exact",
        },
    }
    body.update(kw)
    return body


def violation(caller, **kw) -> dict:
    resp = caller.post("/v1/violations", json=violation_body(**kw))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def claim(caller, violation_id: str, **kw) -> dict:
    body = {
        "claimant": kw.pop("claimant"),
        "stance": kw.pop("stance", "alleges"),
        "statement": kw.pop("statement", "It happened."),
    }
    body.update(kw)
    resp = caller.post(f"/v1/violations/{violation_id}/claims", json=body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def status_of(caller, violation_id: str) -> str:
    return caller.get(f"/v1/violations/{violation_id}").get_json()["status"]
