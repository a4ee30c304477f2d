"""The disputed-fact status, walked through the situations monitors meet."""

from tests.conftest import error_fields
from tests.scenario import agreement, claim, party, source, status_of, violation


def test_accusation_denied_then_denial_withdrawn(reporter, make_caller):
    syria = party(reporter, kind="state", name="Government of Syria")
    turkey = party(reporter, kind="state", name="Turkey")
    sochi = agreement(reporter)
    v = violation(
        reporter,
        title="Heavy weapons remain in the zone",
        category="non_compliance",
        agreement=sochi["id"],
        provisions=["heavy-weapons"],
        attributed_party=turkey,
    )
    accusation = claim(
        reporter,
        v["id"],
        claimant=syria,
        stance="alleges",
        statement="Opposition groups and heavy weapons remain in the zone.",
    )
    assert status_of(reporter, v["id"]) == "reported"

    other_ngo = make_caller("reporter")
    denial = claim(
        other_ngo,
        v["id"],
        claimant=turkey,
        stance="denies",
        responds_to=accusation["id"],
        statement="There are no issues.",
    )
    assert denial["responds_to"] == accusation["id"]
    body = reporter.get(f"/v1/violations/{v['id']}").get_json()
    assert body["status"] == "disputed"
    last = body["status_history"][-1]
    assert (last["from"], last["to"]) == ("reported", "disputed")
    assert turkey in last["reason"] and "denies" in last["reason"]

    resp = other_ngo.post(f"/v1/claims/{denial['id']}/withdraw", json={"reason": "Sent in error"})
    assert resp.status_code == 200
    assert resp.get_json()["withdrawn"] is True
    body = reporter.get(f"/v1/violations/{v['id']}").get_json()
    assert body["status"] == "reported"
    assert [c["id"] for c in body["claims"]] == [accusation["id"], denial["id"]]
    assert [h["to"] for h in body["status_history"]] == ["reported", "disputed", "reported"]


def test_withdraw_needs_owner_and_reason(reporter, make_caller):
    p = party(reporter)
    v = violation(reporter)
    c = claim(reporter, v["id"], claimant=p)
    stranger = make_caller("reporter")
    assert stranger.post(f"/v1/claims/{c['id']}/withdraw", json={"reason": "x"}).status_code == 403
    resp = reporter.post(f"/v1/claims/{c['id']}/withdraw", json={})
    assert resp.status_code == 422
    assert "reason" in error_fields(resp)


def test_two_publishers_corroborate_same_publisher_twice_does_not(reporter):
    monitor = party(reporter, kind="monitor")
    other = party(reporter, kind="monitor")
    sohr_a = source(reporter, publisher="Syrian Observatory for Human Rights")
    sohr_b = source(reporter, publisher="Syrian Observatory for Human Rights", title="Update")
    v = violation(reporter)
    claim(reporter, v["id"], claimant=monitor, sources=[{"source_id": sohr_a}])
    claim(reporter, v["id"], claimant=other, stance="corroborates", sources=[{"source_id": sohr_b}])
    assert status_of(reporter, v["id"]) == "reported"

    other_pub = source(reporter, publisher="Middle East Monitor")
    claim(
        reporter,
        v["id"],
        claimant=other,
        stance="corroborates",
        sources=[{"source_id": other_pub, "excerpt": "regime shelling", "locator": "para 2"}],
    )
    assert status_of(reporter, v["id"]) == "corroborated"


def test_claims_without_sources_count_their_claimants(reporter):
    a, b = party(reporter), party(reporter)
    v = violation(reporter)
    claim(reporter, v["id"], claimant=a)
    claim(reporter, v["id"], claimant=a)
    assert status_of(reporter, v["id"]) == "reported"
    claim(reporter, v["id"], claimant=b, stance="corroborates")
    assert status_of(reporter, v["id"]) == "corroborated"


def test_acknowledgement_confirms_verdicts_and_reopen(reporter, verifier):
    regime = party(reporter, kind="state")
    monitor = party(reporter, kind="monitor")
    v = violation(reporter, attributed_party=regime)
    claim(reporter, v["id"], claimant=monitor)
    claim(reporter, v["id"], claimant=regime, stance="acknowledges")
    assert status_of(reporter, v["id"]) == "confirmed"

    resp = reporter.post(
        f"/v1/violations/{v['id']}/verdict", json={"verdict": "refuted", "reason": "no"}
    )
    assert resp.status_code == 403
    resp = verifier.post(f"/v1/violations/{v['id']}/verdict", json={"verdict": "refuted"})
    assert resp.status_code == 422
    assert "reason" in error_fields(resp)

    resp = verifier.post(
        f"/v1/violations/{v['id']}/verdict",
        json={"verdict": "refuted", "reason": "Imagery shows no impact."},
    )
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "refuted"
    assert body["status_history"][-1]["reason"] == "Imagery shows no impact."
    assert body["status_history"][-1]["by"] == verifier.org

    # A new claim does not move a standing verdict.
    claim(reporter, v["id"], claimant=monitor, stance="denies")
    assert status_of(reporter, v["id"]) == "refuted"

    resp = verifier.post(
        f"/v1/violations/{v['id']}/verdict", json={"verdict": "reopened", "reason": "New evidence."}
    )
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "confirmed"


def test_retraction_by_reporting_org_or_admin_only(reporter, make_caller, admin, verifier):
    v = violation(reporter)
    other = make_caller("reporter")
    body = {"verdict": "retracted", "reason": "Duplicate of another record."}
    assert other.post(f"/v1/violations/{v['id']}/verdict", json=body).status_code == 403
    assert verifier.post(f"/v1/violations/{v['id']}/verdict", json=body).status_code == 403
    resp = reporter.post(f"/v1/violations/{v['id']}/verdict", json=body)
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "retracted"
    v2 = violation(reporter)
    assert admin.post(f"/v1/violations/{v2['id']}/verdict", json=body).status_code == 200
    # Retracted, not deleted.
    assert reporter.get(f"/v1/violations/{v['id']}").status_code == 200
