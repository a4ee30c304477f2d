"""Recording violations and claims: validation, all-or-nothing writes, derived facts, history."""

from sqlalchemy import func, select

from service import db
from service.models import Claim, Source, Violation
from tests.conftest import error_fields, unique
from tests.scenario import agreement, claim, party, source, violation, violation_body


def test_contested_killed_figures_side_by_side(reporter, make_caller):
    jaysh = party(reporter, name="Jaysh al-Izza")
    monitor = party(reporter, kind="monitor")
    other_monitor = party(reporter, kind="monitor")
    v = violation(
        reporter,
        attributed_party=party(reporter, kind="state"),
        affected_parties=[jaysh],
        casualties={"killed": {"low": 12, "best": 22, "high": 25}},
    )
    a = claim(reporter, v["id"], claimant=monitor, asserts={"killed": 22})
    b = claim(
        make_caller("reporter"),
        v["id"],
        claimant=other_monitor,
        stance="disputes",
        asserts={"killed": {"best": 12}},
    )
    body = reporter.get(f"/v1/violations/{v['id']}").get_json()
    assert body["casualties"] == {"killed": {"low": 12, "best": 22, "high": 25}}
    killed = [f for f in body["contested_facts"] if f["fact"] == "killed"]
    assert len(killed) == 1
    values = {str(x["value"]): (x["claims"], x["claimants"]) for x in killed[0]["values"]}
    assert values["22"] == ([a["id"]], [monitor])
    assert values["{'best': 12}"] == ([b["id"]], [other_monitor])
    assert body["claimed_casualties"]["killed"] == {"low": 12, "high": 22}


def test_same_figure_in_two_forms_is_not_contested(reporter):
    a, b = party(reporter), party(reporter)
    v = violation(reporter)
    claim(reporter, v["id"], claimant=a, asserts={"killed": 20, "location.name": "Halfaya"})
    claim(
        reporter, v["id"], claimant=b, asserts={"killed": {"best": 20}, "location.name": "HALFAYA"}
    )
    body = reporter.get(f"/v1/violations/{v['id']}").get_json()
    assert body["contested_facts"] == []


def test_counterclaim_must_answer_a_claim_of_the_same_violation(reporter):
    p = party(reporter)
    v1, v2 = violation(reporter), violation(reporter)
    c1 = claim(reporter, v1["id"], claimant=p)
    resp = reporter.post(
        f"/v1/violations/{v2['id']}/claims",
        json={"claimant": p, "stance": "denies", "statement": "No.", "responds_to": c1["id"]},
    )
    assert resp.status_code == 422
    assert "responds_to" in error_fields(resp)


def test_casualty_order_and_civilians(reporter):
    resp = reporter.post(
        "/v1/violations",
        json=violation_body(
            casualties={
                "killed": {"low": 10, "best": 22, "high": 20},
                "civilian": {"injured": {"best": -1}},
            }
        ),
    )
    assert resp.status_code == 422
    fields = error_fields(resp)
    assert "casualties.killed.high" in fields
    assert "casualties.civilian.injured.best" in fields
    resp = reporter.post(
        "/v1/violations",
        json=violation_body(
            casualties={"killed": {"best": 5}, "civilian": {"killed": {"best": 9}}}
        ),
    )
    assert "casualties.civilian.killed.best" in error_fields(resp)


def test_every_bad_field_named(reporter):
    resp = reporter.post(
        "/v1/violations",
        json=violation_body(
            category="teleportation",
            occurred_at="2018-11-10T00:00:00Z",
            occurred_until="2018-11-09T00:00:00Z",
            location={"lat": 95, "lon": 36.6, "country": "XX", "precision": "roughly"},
            id="mine",
            status="confirmed",
        ),
    )
    assert resp.status_code == 422
    assert resp.mimetype == "application/problem+json"
    fields = error_fields(resp)
    assert fields["id"] == fields["status"] == "is set by the server and cannot be sent"
    resp = reporter.post(
        "/v1/violations",
        json=violation_body(
            category="teleportation",
            occurred_at="2018-11-10T00:00:00Z",
            occurred_until="2018-11-09T00:00:00Z",
            location={"lat": 95, "lon": 36.6, "country": "XX", "precision": "roughly"},
        ),
    )
    fields = error_fields(resp)
    for name in ("category", "location.lat", "location.country", "location.precision"):
        assert name in fields, fields


def test_interval_checked(reporter):
    resp = reporter.post(
        "/v1/violations",
        json=violation_body(
            occurred_at="2018-11-10T00:00:00Z", occurred_until="2018-11-09T00:00:00Z"
        ),
    )
    assert "occurred_until" in error_fields(resp)


def test_unknown_references_named_with_closest_parties(reporter):
    party(reporter, id=unique("hayat-tahrir-al-sham"), name="Hayat Tahrir al-Sham")
    sochi = agreement(reporter)
    resp = reporter.post(
        "/v1/violations",
        json=violation_body(
            attributed_party="hayat-tahrir-al-shem",
            affected_parties=["nobody-at-all"],
            agreement=sochi["id"],
            provisions=["dmz-15km", "no-such-provision"],
        ),
    )
    assert resp.status_code == 422
    fields = error_fields(resp)
    assert "hayat-tahrir-al-sham" in fields["attributed_party"]
    assert "affected_parties.0" in fields
    assert "no-such-provision" in fields["provisions.1"]
    assert "provisions.0" not in fields
    resp = reporter.post("/v1/violations", json=violation_body(agreement="no-such-agreement"))
    assert "agreement" in error_fields(resp)


def _counts(app):
    with app.app_context(), db.session_scope(write=False) as s:
        return tuple(
            s.execute(select(func.count()).select_from(t)).scalar()
            for t in (Violation, Claim, Source)
        )


def test_bad_inline_claim_leaves_nothing_behind(app, reporter):
    good = party(reporter)
    before = _counts(app)
    resp = reporter.post(
        "/v1/violations",
        json=violation_body(
            claims=[
                {
                    "claimant": good,
                    "stance": "alleges",
                    "statement": "Shelling.",
                    "sources": [
                        {
                            "source": {
                                "kind": "news_article",
                                "title": "New source",
                                "publisher": "MEMO",
                            }
                        }
                    ],
                },
                {"claimant": "not-a-party", "stance": "alleges", "statement": "x"},
            ]
        ),
    )
    assert resp.status_code == 422
    assert "claims.1.claimant" in error_fields(resp)
    assert _counts(app) == before
    resp = reporter.post(
        "/v1/violations",
        json=violation_body(
            claims=[
                {
                    "claimant": good,
                    "stance": "alleges",
                    "statement": "Shelling.",
                    "sources": [{"source_id": "f" * 36}],
                }
            ]
        ),
    )
    assert "claims.0.sources.0.source_id" in error_fields(resp)
    assert _counts(app) == before


def test_inline_claims_and_sources_in_one_post(reporter):
    a, b = party(reporter), party(reporter)
    existing = source(reporter, publisher="Syrian Observatory for Human Rights")
    resp = reporter.post(
        "/v1/violations",
        json=violation_body(
            claims=[
                {
                    "claimant": a,
                    "stance": "alleges",
                    "statement": "قصف",
                    "language": "ar",
                    "translations": [
                        {"language": "en", "text": "Shelling", "translator": "MT", "machine": True}
                    ],
                    "sources": [
                        {
                            "source": {
                                "kind": "news_article",
                                "title": "Dozens dead",
                                "publisher": "Middle East Monitor",
                                "language": "en",
                            },
                            "excerpt": "regime shelling targeting the village of Halfaya",
                            "locator": "paragraph 2",
                        }
                    ],
                },
                {
                    "claimant": b,
                    "stance": "corroborates",
                    "statement": "Confirmed.",
                    "sources": [{"source_id": existing}],
                },
            ]
        ),
    )
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["claim_count"] == 2
    assert body["status"] == "corroborated"
    first = body["claims"][0]
    assert first["translations"][0]["machine"] is True
    assert first["sources"][0]["source"]["publisher"] == "Middle East Monitor"
    assert first["sources"][0]["locator"] == "paragraph 2"
    listed = reporter.get("/v1/violations?limit=500").get_json()["items"]
    item = next(i for i in listed if i["id"] == body["id"])
    assert item["claim_count"] == 2 and "claims" not in item


def test_in_agreement_zone(reporter):
    zone_agreement = agreement(reporter)  # covers lon 36..37.5, lat 35..36.5
    inside = violation(reporter, agreement=zone_agreement["id"])
    assert inside["in_agreement_zone"] is True
    outside = violation(
        reporter,
        agreement=zone_agreement["id"],
        location={"name": "Damascus", "lat": 33.51, "lon": 36.29},
    )
    assert outside["in_agreement_zone"] is False
    unknown = violation(reporter, agreement=zone_agreement["id"], location={"name": "Idlib"})
    assert unknown["in_agreement_zone"] is None
    no_agreement = violation(reporter)
    assert no_agreement["in_agreement_zone"] is None
    resp = reporter.patch_fresh(
        f"/v1/violations/{outside['id']}",
        {"location": {"name": "Halfaya", "lat": 35.26, "lon": 36.61}},
    )
    assert resp.status_code == 200
    assert resp.get_json()["in_agreement_zone"] is True


def test_confidential_source_hidden_from_other_reporters(reporter, make_caller, verifier):
    witness = source(
        reporter,
        kind="witness_testimony",
        title="Interview 4",
        author="A. Witness",
        url="https://example.org/private/4",
        confidential=True,
    )
    p = party(reporter)
    v = violation(reporter)
    claim(
        reporter,
        v["id"],
        claimant=p,
        sources=[{"source_id": witness, "excerpt": "I saw", "locator": "Kafr Nabl, 3 May"}],
    )
    stranger = make_caller("reporter")
    seen = stranger.get(f"/v1/sources/{witness}").get_json()
    assert seen["redacted"] is True
    assert seen["author"] is None and seen["url"] is None
    assert seen["title"] == "Interview 4"
    cited = stranger.get(f"/v1/violations/{v['id']}").get_json()["claims"][0]["sources"][0]
    assert cited["source"]["author"] is None and cited["locator"] is None
    assert "A. Witness" not in stranger.get(f"/v1/violations/{v['id']}").get_data(as_text=True)
    assert verifier.get(f"/v1/sources/{witness}").get_json()["author"] == "A. Witness"
    assert reporter.get(f"/v1/sources/{witness}").get_json()["author"] == "A. Witness"


def test_editing_is_for_the_reporting_organisation(reporter, make_caller, admin):
    p = party(reporter)
    v = violation(reporter)
    c = claim(reporter, v["id"], claimant=p)
    stranger = make_caller("reporter")
    assert stranger.patch_fresh(f"/v1/violations/{v['id']}", {"title": "x"}).status_code == 403
    assert stranger.patch_fresh(f"/v1/claims/{c['id']}", {"statement": "x"}).status_code == 403
    # Any reporter may add a claim to any violation.
    claim(stranger, v["id"], claimant=p, stance="corroborates")
    resp = reporter.patch_fresh(f"/v1/violations/{v['id']}", {"title": "Renamed"})
    assert resp.status_code == 200 and resp.get_json()["title"] == "Renamed"
    assert admin.patch_fresh(f"/v1/claims/{c['id']}", {"credibility": 2}).status_code == 200


def test_patch_needs_current_etag(reporter):
    v = violation(reporter)
    path = f"/v1/violations/{v['id']}"
    assert reporter.patch(path, json={"title": "x"}).status_code == 428
    etag = reporter.get(path).headers["ETag"]
    assert reporter.patch(path, json={"title": "first"}, etag=etag).status_code == 200
    assert reporter.patch(path, json={"title": "second"}, etag=etag).status_code == 412
    assert (
        reporter.patch(
            path, json={"status": "confirmed"}, etag=reporter.get(path).headers["ETag"]
        ).status_code
        == 422
    )


def test_history_lists_every_change(reporter, verifier):
    p = party(reporter)
    v = violation(reporter)
    c = claim(reporter, v["id"], claimant=p, asserts={"killed": 3})
    reporter.patch_fresh(f"/v1/claims/{c['id']}", {"asserts": {"killed": 4}})
    reporter.post(f"/v1/claims/{c['id']}/withdraw", json={"reason": "superseded"})
    verifier.post(
        f"/v1/violations/{v['id']}/verdict", json={"verdict": "confirmed", "reason": "Site visit."}
    )
    items = reporter.get(f"/v1/violations/{v['id']}/history").get_json()["items"]
    assert [(i["entity"], i["action"]) for i in items] == [
        ("violation", "create"),
        ("claim", "create"),
        ("claim", "update"),
        ("claim", "withdraw"),
        ("violation", "verdict"),
    ]
    assert items[2]["changes"]["asserts"] == {"from": {"killed": 3}, "to": {"killed": 4}}
    assert items[-1]["actor"] == verifier.org
    assert [i["seq"] for i in items] == sorted(i["seq"] for i in items)


def test_unknown_violation_is_404_problem(reporter):
    resp = reporter.get("/v1/violations/00000000-0000-0000-0000-000000000000")
    assert resp.status_code == 404
    assert resp.mimetype == "application/problem+json"


def test_empty_responds_to_is_a_422_not_a_conflict(reporter):
    # Found by schemathesis: "" skipped the check and reached the foreign key (an undocumented 409).
    pid = party(reporter)
    vid = violation(reporter)["id"]
    first = claim(reporter, vid, claimant=pid)
    body = {"claimant": pid, "stance": "denies", "statement": "No.", "responds_to": ""}
    resp = reporter.post(f"/v1/violations/{vid}/claims", json=body)
    assert resp.status_code == 422, resp.get_json()
    assert "responds_to" in error_fields(resp)
    resp = reporter.patch_fresh(f"/v1/claims/{first['id']}", {"responds_to": ""})
    assert resp.status_code == 422, resp.get_json()
    assert "responds_to" in error_fields(resp)
    inline = violation_body(claims=[{**body, "claimant": pid}])
    resp = reporter.post("/v1/violations", json=inline)
    assert resp.status_code == 422, resp.get_json()
    assert "claims.0.responds_to" in error_fields(resp)


def test_fixed_paths_beside_a_violation_id_allow_only_their_own_methods(reporter):
    # Found by schemathesis: /v1/violations/batch and /export also matched /<violation_id>, so
    # OPTIONS advertised GET and PATCH there, and GET /batch was a 404 rather than a 405.
    resp = reporter.client.options("/v1/violations/batch")
    assert set(resp.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    resp = reporter.client.options("/v1/violations/export")
    assert set(resp.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert reporter.get("/v1/violations/batch").status_code == 405
    vid = violation(reporter)["id"]
    assert reporter.get(f"/v1/violations/{vid}").status_code == 200


def test_the_answer_to_a_post_is_what_a_get_answers_after_it(reporter):
    """POST /v1/violations answers from what it wrote, without reading it back: that answer,
    its ETag included, must be exactly what GET answers afterwards."""
    zone = agreement(reporter)
    accused, accuser = party(reporter, kind="armed_force"), party(reporter, kind="state")
    cited = source(reporter)
    body = violation_body(
        description="Shells fell on the market at dawn.",
        agreement=zone["id"],
        provisions=[zone["provisions"][0]["code"]],
        attributed_party=accused,
        affected_parties=[accuser],
        casualties={"killed": {"low": 2, "best": 3}, "civilian": {"injured": {"best": 1}}},
        tags=["market"],
        claims=[
            {
                "claimant": accuser,
                "stance": "alleges",
                "statement": "Shells fell on the market.",
                "translations": [{"language": "ar", "text": "سقطت القذائف على السوق"}],
                "made_at": "2018-11-09T10:00:00Z",
                "asserts": {"killed": 3},
                "sources": [
                    {"source_id": cited, "excerpt": "shells fell", "locator": "para. 2"},
                    {
                        "source": {
                            "kind": "witness_testimony",
                            "title": "Interview",
                            "url": "https://example.org/interview",
                            "confidential": True,
                        },
                        "locator": "interview 4",
                    },
                ],
            },
            {
                "claimant": accused,
                "stance": "denies",
                "statement": "No shells were fired.",
                "asserts": {"killed": 0},
            },
        ],
    )
    posted = reporter.post("/v1/violations", json=body)
    assert posted.status_code == 201, posted.get_json()
    got = reporter.get(f"/v1/violations/{posted.get_json()['id']}")
    assert posted.get_json()["status"] == "disputed"
    assert posted.get_json() == got.get_json()
    assert posted.headers["ETag"] == got.headers["ETag"]
