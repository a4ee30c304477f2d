"""Who may do what to the record: route x role x own/other organisation -> status.

The owner is a reporter of organisation A who recorded the violation, its claim and a source.
Each row says what every kind of caller gets; no 2xx may appear where the table has none.
"""

from __future__ import annotations

import pytest

from tests.scenario import claim, party, source, violation

CALLERS = ["anonymous", "reader", "owner", "other_reporter", "other_verifier", "admin"]

# (name, method, path template, body factory, expected statuses by caller)
# {v}, {c}, {s} are the owner's violation, claim and source; {p} a party.
ROUTES = [
    ("list violations", "GET", "/v1/violations", None, [401, 200, 200, 200, 200, 200]),
    ("get violation", "GET", "/v1/violations/{v}", None, [401, 200, 200, 200, 200, 200]),
    (
        "post violation",
        "POST",
        "/v1/violations",
        lambda w: {"title": "t", "category": "other", "occurred_at": "2018-11-09T00:00:00Z"},
        [401, 403, 201, 201, 201, 201],
    ),
    (
        "patch violation",
        "PATCH",
        "/v1/violations/{v}",
        lambda w: {"title": "renamed"},
        [401, 403, 200, 403, 403, 200],
    ),
    ("list claims", "GET", "/v1/violations/{v}/claims", None, [401, 200, 200, 200, 200, 200]),
    (
        "post claim",
        "POST",
        "/v1/violations/{v}/claims",
        lambda w: {"claimant": w["p"], "stance": "corroborates", "statement": "Seen too."},
        [401, 403, 201, 201, 201, 201],
    ),
    ("get claim", "GET", "/v1/claims/{c}", None, [401, 200, 200, 200, 200, 200]),
    (
        "patch claim",
        "PATCH",
        "/v1/claims/{c}",
        lambda w: {"credibility": 2},
        [401, 403, 200, 403, 403, 200],
    ),
    (
        "withdraw claim",
        "POST",
        "/v1/claims/{c}/withdraw",
        lambda w: {"reason": "error"},
        [401, 403, 200, 403, 403, 200],
    ),
    (
        "confirm",
        "POST",
        "/v1/violations/{v}/verdict",
        lambda w: {"verdict": "confirmed", "reason": "Site visit."},
        [401, 403, 403, 403, 200, 200],
    ),
    (
        "retract",
        "POST",
        "/v1/violations/{v}/verdict",
        lambda w: {"verdict": "retracted", "reason": "Duplicate."},
        [401, 403, 200, 403, 403, 200],
    ),
    ("history", "GET", "/v1/violations/{v}/history", None, [401, 200, 200, 200, 200, 200]),
    ("list sources", "GET", "/v1/sources", None, [401, 200, 200, 200, 200, 200]),
    (
        "post source",
        "POST",
        "/v1/sources",
        lambda w: {"kind": "video", "title": "Clip"},
        [401, 403, 201, 201, 201, 201],
    ),
    ("get source", "GET", "/v1/sources/{s}", None, [401, 200, 200, 200, 200, 200]),
    (
        "patch source",
        "PATCH",
        "/v1/sources/{s}",
        lambda w: {"title": "Renamed"},
        [401, 403, 200, 403, 403, 200],
    ),
    (
        "erase source",
        "POST",
        "/v1/sources/{s}/erase",
        lambda w: {"reason": "The witness is in danger."},
        [401, 403, 200, 403, 403, 200],
    ),
    ("audit verify", "GET", "/v1/audit/verify", None, [401, 403, 403, 403, 200, 200]),
    (
        "audit verify in full",
        "GET",
        "/v1/audit/verify?full=1",
        None,
        [401, 403, 403, 403, 403, 200],
    ),
]

CASES = [
    pytest.param(route, caller, expected[i], id=f"{route[0]}-{caller}")
    for route in ROUTES
    for i, caller in enumerate(CALLERS)
    for expected in [route[4]]
]


@pytest.fixture
def world(make_caller, anonymous):
    owner = make_caller("reporter")
    callers = {
        "anonymous": anonymous,
        "reader": make_caller("reader"),
        "owner": owner,
        "other_reporter": make_caller("reporter"),
        "other_verifier": make_caller("verifier"),
        "admin": make_caller("admin"),
    }
    p = party(owner)
    v = violation(owner)
    c = claim(owner, v["id"], claimant=p)
    s = source(owner)
    return callers, {"v": v["id"], "c": c["id"], "s": s, "p": p}


@pytest.mark.parametrize("route,caller,expected", CASES)
def test_permission_matrix(world, route, caller, expected):
    callers, ids = world
    _name, method, template, body, _ = route
    who = callers[caller]
    path = template.format(**ids)
    payload = body(ids) if body else None
    if method == "GET":
        resp = who.get(path)
    elif method == "POST":
        resp = who.post(path, json=payload)
    else:
        etag = callers["owner"].get(path).headers["ETag"]
        resp = who.patch(path, json=payload, etag=etag)
    assert resp.status_code == expected, resp.get_data(as_text=True)[:300]
    if resp.status_code >= 400:
        assert resp.mimetype == "application/problem+json"
