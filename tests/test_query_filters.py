"""GET /v1/violations filters: each one, and combined, against a world with known answers."""

from __future__ import annotations

import pytest

from tests.conftest import error_fields, unique
from tests.query_fixtures import all_pages, build_world, module_caller


@pytest.fixture(scope="module")
def world_caller(app):
    return module_caller(app, "reporter")


@pytest.fixture(scope="module")
def world(world_caller):
    """Five violations with known answers (tests/query_fixtures.py)."""
    return build_world(world_caller)


def found(caller, **params) -> set[str]:
    return {item["id"] for item in all_pages(caller, "/v1/violations", params)}


def test_each_party_filter(world, world_caller):
    p, c = world.parties, world_caller
    assert found(c, attributed_party=p["A"]) == world.ids("V1", "V2")
    assert found(c, attributed_party=p["B"]) == world.ids("V3", "V5")
    assert found(c, affected_party=p["C"]) == world.ids("V2", "V5")
    assert found(c, affected_party=p["A"]) == world.ids("V5")
    assert found(c, claimant=p["M"]) == world.ids("V1", "V3")
    assert found(c, claimant=p["N"]) == world.ids("V1")
    assert found(c, claimant=p["C"]) == set()
    assert found(c, agreement=world.agreement) == world.ids("V1", "V2", "V3")
    assert found(c, admin1=world.admin1["idlib"]) == world.ids("V2", "V4")


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"status": "corroborated"}, {"V1"}),
        ({"status": "disputed"}, {"V2"}),
        ({"status": "reported"}, {"V3"}),
        ({"status": "retracted"}, {"V4"}),
        ({"status": "confirmed"}, {"V5"}),
        ({"category": "sniping"}, {"V5"}),
        ({"country": "TR"}, {"V3"}),
        ({"country": "sy"}, {"V1", "V2", "V4", "V5"}),
        ({"in_agreement_zone": "true"}, {"V1", "V2"}),
        ({"in_agreement_zone": "false"}, {"V3"}),
        ({"in_agreement_zone": "null"}, {"V4", "V5"}),
        # A box around Hama and Idlib governorates: V3 lies north, V5 (Aleppo) east.
        ({"bbox": "36.2,35.0,36.7,36.0"}, {"V1", "V2"}),
        ({"bbox": "36.6075,35.2603,36.6075,35.2603"}, {"V1"}),  # edges included
        # The interval [occurred_at, occurred_until] overlaps [from, to].
        ({"occurred_from": "2018-11-09T12:00:00Z"}, {"V1", "V2", "V4", "V5"}),
        ({"occurred_to": "2018-11-08"}, {"V3"}),
        ({"occurred_to": "2018-11-09"}, {"V1", "V3"}),  # a date means its whole day
        ({"occurred_from": "2018-10-31", "occurred_to": "2018-11-09T00:00:00Z"}, {"V1", "V3"}),
        ({"occurred_from": "2018-10-15", "occurred_to": "2018-10-16"}, {"V3"}),
        ({"occurred_from": "2019-01-15T08:00:01Z", "occurred_to": "2019-02-01"}, set()),
    ],
    ids=lambda x: "&".join(f"{k}={v}" for k, v in x.items()) if isinstance(x, dict) else "",
)
def test_global_filters_scoped_by_word(world, world_caller, params, names):
    assert found(world_caller, q=world.word, **params) == world.ids(*names)


def test_filters_combine(world, world_caller):
    p, c = world.parties, world_caller
    assert found(
        c, attributed_party=p["A"], in_agreement_zone="true", occurred_from="2018-11-20"
    ) == world.ids("V2")
    assert found(c, attributed_party=p["B"], affected_party=p["C"]) == world.ids("V5")
    assert found(c, claimant=p["M"], country="TR", category="troop_movement") == world.ids("V3")
    assert found(c, attributed_party=p["A"], status="confirmed") == set()


def test_updated_since_sees_only_later_changes(world, world_caller):
    c = world_caller
    v3 = c.get(f"/v1/violations/{world.v['V3']['id']}").get_json()
    since = v3["updated_at"]
    assert world.ids("V3") <= found(c, q=world.word, updated_since=since)
    resp = c.patch_fresh(f"/v1/violations/{world.v['V4']['id']}", {"tags": ["rechecked"]})
    assert resp.status_code == 200, resp.get_json()
    later = resp.get_json()["updated_at"]
    assert found(c, q=world.word, updated_since=later) == world.ids("V4")


def test_unknown_and_malformed_parameters_are_named(world_caller):
    resp = world_caller.get(
        "/v1/violations",
        query_string={
            "colour": "red",
            "occurred_from": "yesterday",
            "bbox": "1,2,3",
            "in_agreement_zone": "maybe",
            "status": "rumoured",
            "country": "XX",
            "limit": "501",
            "attributed_party": "Not A Slug",
        },
    )
    assert resp.status_code == 422
    assert resp.mimetype == "application/problem+json"
    fields = error_fields(resp)
    for name in (
        "colour",
        "occurred_from",
        "bbox",
        "in_agreement_zone",
        "status",
        "country",
        "limit",
        "attributed_party",
    ):
        assert f"query.{name}" in fields, fields
    assert "Unknown field" in fields["query.colour"]


@pytest.mark.parametrize(
    ("bbox", "reason"),
    [
        ("37,35,36,36", "minLon must not exceed maxLon"),
        ("36,36,37,35", "minLat must not exceed maxLat"),
        ("36,-91,37,35", "latitudes must lie in -90..90"),
        ("-181,35,37,36", "longitudes must lie in -180..180"),
        ("a,b,c,d", "four numbers"),
    ],
)
def test_bbox_checked(world_caller, bbox, reason):
    resp = world_caller.get("/v1/violations", query_string={"bbox": bbox})
    assert resp.status_code == 422
    assert reason in error_fields(resp)["query.bbox"]


def test_time_range_in_order_and_search_needs_words(world_caller):
    resp = world_caller.get(
        "/v1/violations", query_string={"occurred_from": "2019-01-02", "occurred_to": "2019-01-01"}
    )
    assert "query.occurred_to" in error_fields(resp)
    resp = world_caller.get("/v1/violations", query_string={"q": "?!"})
    assert resp.status_code == 422
    assert "query.q" in error_fields(resp)


@pytest.mark.parametrize(
    ("path", "query", "field", "hint"),
    [
        ("/v1/violations", {"attributed_party": "syrian-govt"}, "query.attributed_party", None),
        ("/v1/violations", {"claimant": "sohr-x"}, "query.claimant", None),
        ("/v1/violations/export", {"format": "csv", "affected_party": "nope"}, None, None),
        ("/v1/stats", {"group_by": "category", "agreement": "sochi-2019"}, "query.agreement", None),
    ],
    ids=["list-attributed", "list-claimant", "export-affected", "stats-agreement"],
)
def test_a_filter_naming_an_unknown_record_is_422_with_the_closest(
    reader, path, query, field, hint
):
    """A typo in a filter would match nothing and look like "no violation": it is refused, as
    the same typo in a write is, with the closest known names."""
    resp = reader.get(path, query_string=query)
    assert resp.status_code == 422, resp.get_data(as_text=True)[:300]
    fields = error_fields(resp)
    name = field or f"query.{next(k for k in query if k != 'format')}"
    assert name in fields, fields
    assert "unknown" in fields[name]


def test_the_closest_known_names_are_offered(reader, reporter):
    from tests.scenario import party

    known = party(reporter, id=unique("hayat-tahrir"), name="Hayat Tahrir al-Sham")
    resp = reader.get("/v1/violations", query_string={"attributed_party": known + "x"})
    assert resp.status_code == 422
    assert known in error_fields(resp)["query.attributed_party"]


def test_a_known_party_with_no_violation_is_an_empty_page(reader, reporter):
    from tests.scenario import party

    quiet = party(reporter)
    resp = reader.get("/v1/violations", query_string={"attributed_party": quiet})
    assert resp.status_code == 200 and resp.get_json()["items"] == []
