"""Any JSON that parses gets an answer below 500: numbers too big for a float or for Python's
int conversion, arrays nested thousands deep, lone surrogates. Each is 400 or 422 problem+json
naming the field; a property-based test sends arbitrary JSON to every POST and PATCH route."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import create_app
from tests.conftest import error_fields, problem_of
from tests.query_fixtures import module_caller
from tests.scenario import agreement, party, source, violation_body


def _post_raw(caller, path, raw: str):
    return caller.client.post(
        path,
        data=raw.encode("utf-8", "surrogatepass"),
        content_type="application/json",
        headers={"Authorization": f"Bearer {caller.key}"},
    )


def _refused(resp, field: str) -> None:
    assert resp.status_code in (400, 422), (resp.status_code, resp.get_data(as_text=True)[:500])
    body = problem_of(resp)
    named = set(error_fields(resp)) | {e.get("field") for e in body.get("errors", [])}
    assert field in named, body


def _violation_with(lat_literal: str) -> str:
    body = json.dumps(violation_body())
    return body.replace('"lat": 35.2603', f'"lat": {lat_literal}')


def test_an_integer_too_big_for_a_float_is_422(reporter):
    raw = _violation_with("1" + "0" * 400)
    assert "1" + "0" * 400 in raw
    _refused(_post_raw(reporter, "/v1/violations", raw), "location.lat")


def test_an_integer_of_5000_digits_is_422(reporter):
    raw = _violation_with("9" * 5000)
    _refused(_post_raw(reporter, "/v1/violations", raw), "location.lat")
    big_title = json.dumps({**violation_body(), "title": 0}).replace(
        '"title": 0', '"title": ' + "7" * 5000
    )
    _refused(_post_raw(reporter, "/v1/violations", big_title), "title")


@pytest.mark.parametrize("idempotent", [False, True])
def test_arrays_nested_10000_deep_are_400(reporter, idempotent):
    deep = "[" * 10_000 + "]" * 10_000
    raw = json.dumps(violation_body(tags="@tags@")).replace('"@tags@"', deep)
    headers = {"Authorization": f"Bearer {reporter.key}"}
    if idempotent:
        headers["Idempotency-Key"] = "deep-" + str(id(raw))
    resp = reporter.client.post(
        "/v1/violations", data=raw, content_type="application/json", headers=headers
    )
    _refused(resp, "tags")
    top = reporter.client.post(
        "/v1/violations", data=deep, content_type="application/json", headers=headers
    )
    _refused(top, "body")


def test_nesting_past_the_limit_is_422_before_the_parser_minds(reporter):
    nested = "[" * 200 + "1" + "]" * 200
    raw = json.dumps(violation_body(tags="@tags@")).replace('"@tags@"', nested)
    resp = _post_raw(reporter, "/v1/violations", raw)
    _refused(resp, "tags")
    assert "levels deep" in error_fields(resp)["tags"]


def test_a_lone_surrogate_in_a_title_is_422(reporter):
    raw = json.dumps(violation_body(title="Shelling \ud800 of Halfaya"))
    assert "\\ud800" in raw
    resp = _post_raw(reporter, "/v1/violations", raw)
    _refused(resp, "title")
    assert "U+D800" in error_fields(resp)["title"]


def test_a_huge_coordinate_in_a_zone_is_422(reporter):
    zone = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    body = json.dumps({"id": "zone-huge", "title": "Truce", "zone": zone})
    raw = body.replace("[1, 1]", "[1" + "0" * 400 + ", 1]")
    resp = _post_raw(reporter, "/v1/agreements", raw)
    assert resp.status_code in (400, 422), resp.get_data(as_text=True)[:300]
    assert any(f.startswith("zone") for f in error_fields(resp)), problem_of(resp)


# --- Arbitrary JSON to every POST and PATCH route -------------------------------------------

_ROUTES_APP = create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": "x", "RATE_LIMIT": "0"})
ROUTES = sorted(
    (rule.rule, method)
    for rule in _ROUTES_APP.url_map.iter_rules()
    for method in sorted(rule.methods & {"POST", "PATCH"})
)
_ROUTES_APP.extensions["ledger.db"][0].dispose()


def _field_names() -> list[str]:
    """Every property name the spec's schemas have, so drawn objects reach into the schemas."""
    spec = _ROUTES_APP.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    names = set()
    for schema in spec["components"]["schemas"].values():
        names.update(schema.get("properties", {}))
    return sorted(names)


FIELD_NAMES = _field_names()
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([10**400, -(10**400), 10**310, 2**63, -(2**63) - 1])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=()), max_size=30)
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), children, max_size=5),
    max_leaves=20,
)
bodies = values | st.dictionaries(st.sampled_from(FIELD_NAMES), values, max_size=8)


@pytest.fixture(scope="module")
def records(app):
    """One record of each kind, for the path parameters: the admin may write to every one."""
    admin = module_caller(app, "admin")
    reporter = module_caller(app, "reporter")
    vid_resp = admin.post("/v1/violations", json=violation_body())
    assert vid_resp.status_code == 201, vid_resp.get_json()
    vid = vid_resp.get_json()["id"]
    pid = party(admin)
    claim = admin.post(
        f"/v1/violations/{vid}/claims",
        json={"claimant": pid, "stance": "alleges", "statement": "It happened."},
    )
    assert claim.status_code == 201, claim.get_json()
    key = admin.post("/v1/keys", json={"org": reporter.org, "role": "reader"})
    assert key.status_code == 201, key.get_json()
    ids = {
        "party_id": pid,
        "agreement_id": agreement(admin)["id"],
        "source_id": source(admin),
        "violation_id": vid,
        "claim_id": claim.get_json()["id"],
        "key_id": key.get_json()["id"],
    }
    return admin, ids


def _path(rule: str, ids: dict) -> str:
    def fill(match):
        name = match.group(1).split(":")[-1]
        assert name in ids, f"{rule}: no record for <{name}>; add one to the records fixture"
        return ids[name]

    return re.sub(r"<([^>]+)>", fill, rule)


@pytest.mark.parametrize(("rule", "method"), ROUTES, ids=[f"{m} {r}" for r, m in ROUTES])
def test_arbitrary_json_never_gets_a_5xx(records, rule, method):
    admin, ids = records
    path = _path(rule, ids)
    headers = {"Authorization": f"Bearer {admin.key}"}

    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(body=bodies)
    def check(body):
        if method == "PATCH":
            current = admin.client.get(path, headers=headers)
            headers["If-Match"] = current.headers.get("ETag", '"none"')
        raw = json.dumps(body).encode()
        resp = admin.client.open(
            path, method=method, data=raw, content_type="application/json", headers=headers
        )
        assert resp.status_code < 500, (method, path, raw[:300], resp.get_data(as_text=True)[:300])

    check()
