"""Agreements: provisions, signatories and the zone they cover, recorded and edited."""

from __future__ import annotations

import pytest

from tests.conftest import error_fields, problem_of, unique
from tests.factories import AgreementPayload, PartyPayload

SQUARE = [[36.0, 35.0], [37.5, 35.0], [37.5, 36.5], [36.0, 36.5], [36.0, 35.0]]


def party_ids(caller, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        body = PartyPayload(kind="state")
        assert caller.post("/v1/parties", json=body).status_code == 201
        ids.append(body["id"])
    return ids


def test_create_with_provisions_parties_and_zone(reporter, reader):
    signatories = party_ids(reporter, 2)
    body = AgreementPayload(
        title="Memorandum on Stabilization of the Idlib De-escalation Area",
        signed_on="2018-09-17",
        parties=signatories,
        zone_approximate=True,
        description="Sochi, 17 September 2018.",
    )
    created = reporter.post("/v1/agreements", json=body)
    assert created.status_code == 201, created.get_json()
    assert created.headers["ETag"]
    agreement = created.get_json()
    for field, value in body.items():
        assert agreement[field] == value, field
    assert agreement["created_by"] == reporter.org
    assert agreement["version"] == 1

    got = reader.get(f"/v1/agreements/{body['id']}")
    assert got.status_code == 200
    assert got.get_json() == agreement
    assert [p["code"] for p in got.get_json()["provisions"]] == ["dmz-15km", "heavy-weapons"]


def test_zone_is_optional_and_may_be_a_multipolygon(reporter):
    no_zone = AgreementPayload(zone=None)
    resp = reporter.post("/v1/agreements", json=no_zone)
    assert resp.status_code == 201
    assert resp.get_json()["zone"] is None

    east = [[[38.0, 35.0], [39.0, 35.0], [39.0, 36.0], [38.0, 35.0]]]
    multi = {"type": "MultiPolygon", "coordinates": [[SQUARE], east]}
    resp = reporter.post("/v1/agreements", json=AgreementPayload(zone=multi))
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["zone"] == multi


def test_list_pages_through_agreements(reporter, reader):
    created = AgreementPayload()
    assert reporter.post("/v1/agreements", json=created).status_code == 201
    seen, path = [], "/v1/agreements?limit=500"
    while path:
        page = reader.get(path)
        assert page.status_code == 200
        seen += [a["id"] for a in page.get_json()["items"]]
        cursor = page.get_json()["next_cursor"]
        path = f"/v1/agreements?limit=500&cursor={cursor}" if cursor else None
    assert created["id"] in seen
    assert len(seen) == len(set(seen))


BAD_ZONES = {
    "point": {"type": "Point", "coordinates": [36.6, 35.9]},
    "bow-tie": {
        "type": "Polygon",
        "coordinates": [[[36.0, 35.0], [37.0, 36.0], [37.0, 35.0], [36.0, 36.0], [36.0, 35.0]]],
    },
    "unclosed-ring": {"type": "Polygon", "coordinates": [SQUARE[:-1]]},
    "lon-200": {
        "type": "Polygon",
        "coordinates": [[[200.0, 35.0], [201.0, 35.0], [201.0, 36.0], [200.0, 35.0]]],
    },
    "lat-95": {
        "type": "Polygon",
        "coordinates": [[[36.0, 95.0], [37.0, 95.0], [37.0, 96.0], [36.0, 95.0]]],
    },
    "not-nested": {"type": "Polygon", "coordinates": SQUARE},
    "flat-numbers": {"type": "Polygon", "coordinates": [36.0, 35.0, 37.5, 35.0]},
    "multipolygon-nested-as-polygon": {"type": "MultiPolygon", "coordinates": [SQUARE]},
    "strings": {"type": "Polygon", "coordinates": [[["36", "35"], *SQUARE[1:-1], ["36", "35"]]]},
    "string-ring": {"type": "Polygon", "coordinates": [SQUARE, "hole"]},
    "booleans": {"type": "Polygon", "coordinates": [[[True, 35.0], *SQUARE[1:-1], [True, 35.0]]]},
    "too-few-positions": {"type": "Polygon", "coordinates": [[SQUARE[0], SQUARE[1], SQUARE[0]]]},
    "empty-ring": {"type": "Polygon", "coordinates": [[]]},
    "empty": {"type": "Polygon", "coordinates": []},
    "four-values": {"type": "Polygon", "coordinates": [[[36.0, 35.0, 1.0, 2.0], *SQUARE[1:]]]},
    "hole-outside-shell": {
        "type": "Polygon",
        "coordinates": [SQUARE, [[40.0, 40.0], [41.0, 40.0], [41.0, 41.0], [40.0, 40.0]]],
    },
    "feature": {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [SQUARE]}},
    "extra-member": {"type": "Polygon", "coordinates": [SQUARE], "crs": "EPSG:4326"},
    "not-an-object": "POLYGON((36 35, 37.5 35, 37.5 36.5, 36 35))",
}


@pytest.mark.parametrize("zone", BAD_ZONES.values(), ids=BAD_ZONES.keys())
def test_bad_zone_is_422_naming_zone(reporter, zone):
    body = AgreementPayload(zone=zone)
    resp = reporter.post("/v1/agreements", json=body)
    assert resp.status_code == 422, resp.get_json()
    problem = problem_of(resp)
    assert set(error_fields(resp)) == {"zone"}
    # The reason is written for the client, not a Python error message.
    reason = error_fields(resp)["zone"]
    for internal in ("object is not", "Traceback", "numpy", "array element", "Valid Geometry"):
        assert internal not in reason
    assert "Traceback" not in str(problem)
    assert reporter.get(f"/v1/agreements/{body['id']}").status_code == 404


def test_duplicate_provision_codes_are_422(reporter):
    provisions = [
        {"code": "dmz-15km", "text": "A demilitarised zone."},
        {"code": "dmz-15km", "text": "The same code again."},
    ]
    resp = reporter.post("/v1/agreements", json=AgreementPayload(provisions=provisions))
    assert resp.status_code == 422
    fields = error_fields(resp)
    assert set(fields) == {"provisions"}
    assert "dmz-15km" in fields["provisions"]


def test_provision_needs_code_and_text(reporter):
    provisions = [{"code": "ok", "text": "fine"}, {"code": "has space", "text": ""}]
    resp = reporter.post("/v1/agreements", json=AgreementPayload(provisions=provisions))
    assert resp.status_code == 422
    assert set(error_fields(resp)) == {"provisions.1.code", "provisions.1.text"}


def test_unknown_party_is_422_naming_its_position(reporter):
    known = party_ids(reporter, 1)
    body = AgreementPayload(parties=[unique("nowhere")])
    resp = reporter.post("/v1/agreements", json=body)
    assert resp.status_code == 422
    assert set(error_fields(resp)) == {"parties.0"}

    resp = reporter.post("/v1/agreements", json=AgreementPayload(parties=[*known, unique("no")]))
    assert resp.status_code == 422
    assert set(error_fields(resp)) == {"parties.1"}
    assert reporter.get(f"/v1/agreements/{body['id']}").status_code == 404


def test_duplicate_id_is_409(reporter):
    body = AgreementPayload()
    assert reporter.post("/v1/agreements", json=body).status_code == 201
    resp = reporter.post("/v1/agreements", json=AgreementPayload(id=body["id"]))
    assert resp.status_code == 409
    problem_of(resp)


def test_unknown_agreement_is_404(reader):
    resp = reader.get(f"/v1/agreements/{unique('nothing')}")
    assert resp.status_code == 404
    problem_of(resp)


def test_patch_with_if_match(reporter):
    body = AgreementPayload()
    assert reporter.post("/v1/agreements", json=body).status_code == 201
    path = f"/v1/agreements/{body['id']}"
    before = reporter.get(path)
    etag = before.headers["ETag"]

    assert reporter.patch(path, json={"title": "No If-Match"}).status_code == 428
    assert reporter.patch(path, json={"title": "Stale"}, etag='"stale"').status_code == 412

    provisions = [*body["provisions"], {"code": "crossings", "text": "Crossings reopened."}]
    signatories = party_ids(reporter, 1)
    changes = {"title": "Amended", "provisions": provisions, "parties": signatories}
    resp = reporter.patch(path, json=changes, etag=etag)
    assert resp.status_code == 200, resp.get_json()
    after = resp.get_json()
    assert after["title"] == "Amended"
    assert after["provisions"] == provisions
    assert after["parties"] == signatories
    assert after["version"] == before.get_json()["version"] + 1
    assert reporter.get(path).get_json() == after


def test_patch_zone(reporter):
    body = AgreementPayload()
    assert reporter.post("/v1/agreements", json=body).status_code == 201
    path = f"/v1/agreements/{body['id']}"
    smaller = {
        "type": "Polygon",
        "coordinates": [[[36.0, 35.0], [37.0, 35.0], [36.5, 36.0], [36.0, 35.0]]],
    }
    resp = reporter.patch_fresh(path, {"zone": smaller})
    assert resp.status_code == 200, resp.get_json()
    assert reporter.get(path).get_json()["zone"] == smaller

    removed = reporter.patch_fresh(path, {"zone": None})
    assert removed.status_code == 200
    assert removed.get_json()["zone"] is None


def test_bad_patch_changes_nothing(reporter):
    body = AgreementPayload()
    assert reporter.post("/v1/agreements", json=body).status_code == 201
    path = f"/v1/agreements/{body['id']}"
    before = reporter.get(path).get_json()
    resp = reporter.patch_fresh(
        path, {"title": "Half", "zone": BAD_ZONES["bow-tie"], "parties": [unique("x")]}
    )
    assert resp.status_code == 422
    assert "zone" in error_fields(resp)
    resp = reporter.patch_fresh(path, {"title": "Half", "parties": [unique("x")]})
    assert resp.status_code == 422
    assert set(error_fields(resp)) == {"parties.0"}
    assert reporter.get(path).get_json() == before
