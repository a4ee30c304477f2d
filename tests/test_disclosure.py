"""Who sees what: confidential identities through every exit, a log that keeps no secret,
idempotent replays after authorization, and erasure.

The canary sweep plants unique markers in every confidential field through every write path,
then calls every GET route the app has (read from its URL map, so that a route added later is
swept without anyone adding it here) as callers of another organisation and anonymously, and
looks for the markers in every body and header.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
from sqlalchemy import inspect, select, text

from service import db
from service.models import AuditEntry, SealedValue
from tests.conftest import Caller, unique
from tests.scenario import party, violation_body

WITNESS_ORG_ROLE = "reporter"


def _mark() -> str:
    return f"CANARY{uuid.uuid4().hex}"


def _confidential(mark: str, what: str, **kw) -> dict:
    body = {
        "kind": "witness_testimony",
        "title": "Interview with a resident",
        "publisher": "Idlib Monitors",
        "author": f"{mark}-{what}-author",
        "url": f"https://notes.example.org/{mark}-{what}-url",
        "archive_url": f"https://archive.example.org/{mark}-{what}-archive",
        "editions": [{"language": "ar", "url": f"https://ar.example.org/{mark}-{what}-edition"}],
        "confidential": True,
    }
    body.update(kw)
    return body


class Planted:
    """Markers planted through every write path by the recording organisation."""

    def __init__(self, witness: Caller, admin: Caller):
        self.mark = _mark()
        m = self.mark
        self.idem = lambda: {"Idempotency-Key": unique("canary")}
        claimant = party(admin)
        self.claimant = claimant
        # 1. POST /v1/sources, then PATCH it.
        resp = witness.post(
            "/v1/sources", json=_confidential(m, "source-post"), headers=self.idem()
        )
        assert resp.status_code == 201, resp.get_json()
        self.source_id = resp.get_json()["id"]
        resp = witness.patch_fresh(
            f"/v1/sources/{self.source_id}",
            {
                "author": f"{m}-source-patch-author",
                "editions": [{"language": "fr", "url": f"https://fr.example.org/{m}-patch"}],
            },
        )
        assert resp.status_code == 200, resp.get_json()
        # 2. A violation with a claim citing an inline source and the posted one.
        body = violation_body(
            title=unique("canary violation"),
            claims=[
                {
                    "claimant": claimant,
                    "stance": "alleges",
                    "statement": "A witness saw the shelling.",
                    "sources": [
                        {
                            "source": _confidential(m, "violation-inline"),
                            "locator": f"{m}-violation-locator",
                        },
                        {"source_id": self.source_id, "locator": f"{m}-cited-locator"},
                    ],
                }
            ],
        )
        resp = witness.post("/v1/violations", json=body, headers=self.idem())
        assert resp.status_code == 201, resp.get_json()
        self.violation_id = resp.get_json()["id"]
        # 3. A claim with its own inline source, then its locator edited.
        resp = witness.post(
            f"/v1/violations/{self.violation_id}/claims",
            json={
                "claimant": claimant,
                "stance": "alleges",
                "statement": "A second witness confirms it.",
                "sources": [
                    {
                        "source": _confidential(m, "claim-inline"),
                        "locator": f"{m}-claim-locator",
                    }
                ],
            },
            headers=self.idem(),
        )
        assert resp.status_code == 201, resp.get_json()
        self.claim_id = resp.get_json()["id"]
        self.claim_source_id = resp.get_json()["sources"][0]["source_id"]
        resp = witness.patch_fresh(
            f"/v1/claims/{self.claim_id}",
            {
                "sources": [
                    {"source_id": self.claim_source_id, "locator": f"{m}-edited-locator"}
                ]
            },
        )
        assert resp.status_code == 200, resp.get_json()
        # 4. A batch item with an inline source.
        item = violation_body(
            title=unique("canary batch"),
            claims=[
                {
                    "claimant": claimant,
                    "stance": "alleges",
                    "statement": "Reported by phone.",
                    "sources": [
                        {"source": _confidential(m, "batch-inline"), "locator": f"{m}-batch"}
                    ],
                }
            ],
        )
        resp = witness.post(
            "/v1/violations/batch", json={"items": [item]}, headers=self.idem()
        )
        assert resp.status_code == 200, resp.get_json()
        assert resp.get_json()["results"][0]["status"] == 201, resp.get_json()
        self.batch_violation_id = resp.get_json()["results"][0]["id"]
        # 5. An admin mints a key: its secret must be nowhere but in that one answer.
        resp = admin.post(
            "/v1/keys", json={"org": unique("ngo"), "role": "verifier"}, headers=self.idem()
        )
        assert resp.status_code == 201
        self.minted_key = resp.get_json()["key"]
        self.minted_key_id = resp.get_json()["id"]


def _fill(rule, planted: Planted) -> list[str]:
    """Concrete paths for a URL rule, its parameters filled with the planted records."""
    values = {
        "violation_id": [planted.violation_id, planted.batch_violation_id],
        "claim_id": [planted.claim_id],
        "source_id": [planted.source_id, planted.claim_source_id],
        "party_id": [planted.claimant],
        "agreement_id": ["sochi-2018"],
        "key_id": [planted.minted_key_id],
        "filename": ["swagger-ui.css"],
    }
    paths = [rule.rule]
    for name in rule.arguments:
        assert name in values, f"a new route parameter <{name}> in {rule.rule}: give it a value"
        paths = [
            re.sub(rf"<(?:[^:>]+:)?{name}>", value, path)
            for path in paths
            for value in values[name]
        ]
    return paths


def _query_variants(app, rule) -> list[str]:
    """Query strings worth sending to a route: every export format, a claimant filter."""
    if rule.rule.endswith("/export"):
        from service.resources.exports import formats

        return [f"?format={name}" for name in formats.FORMATS]
    if rule.rule == "/v1/changes":
        return ["?after=0&limit=500"]
    if rule.rule in ("/v1/violations", "/v1/sources"):
        return ["", "?limit=500"]
    return [""]


def _get_routes(app):
    rules = [r for r in app.url_map.iter_rules() if "GET" in r.methods]
    assert len(rules) > 15, "the app's URL map looks empty"
    return rules


def _sweep(app, planted: Planted, caller: Caller) -> list[str]:
    found = []
    answered = set()
    for rule in _get_routes(app):
        for path in _fill(rule, planted):
            for query in _query_variants(app, rule):
                resp = caller.get(path + query)
                assert resp.status_code < 500, (path + query, resp.status_code)
                if resp.status_code == 200:
                    answered.add(rule.rule)
                body = resp.get_data(as_text=True)
                headers = str(resp.headers)
                for where, value in (("body", body), ("headers", headers)):
                    if planted.mark in value:
                        found.append(f"{caller.role or 'anonymous'} {path}{query} ({where})")
                    if planted.minted_key in value:
                        found.append(f"minted key at {path}{query} ({where})")
    # The doors that hold the planted records did open (a sweep of 404s would prove nothing).
    for rule in (
        "/v1/sources/<source_id>",
        "/v1/claims/<claim_id>",
        "/v1/violations/<violation_id:violation_id>",
        "/v1/violations/<violation_id:violation_id>/history",
        "/v1/violations/export",
        "/v1/changes",
    ):
        assert rule in answered, (caller.role, rule)
    return found


@pytest.fixture
def witness(make_caller) -> Caller:
    return make_caller(WITNESS_ORG_ROLE)


@pytest.fixture
def planted(witness, admin) -> Planted:
    return Planted(witness, admin)


def test_every_get_route_hides_the_markers_from_other_organisations(
    app, planted, make_caller, make_app
):
    outsiders = [make_caller("reader"), make_caller("reporter")]
    public = make_app(PUBLIC_READS=True)
    outsiders.append(Caller(client=public.test_client(), key=None, org=None, role=None))
    found = []
    for caller in outsiders:
        found += _sweep(app if caller.key else public, planted, caller)
    assert not found, "confidential values or a minted key left through:\n" + "\n".join(found)


def test_those_who_may_see_do_see(planted, witness, make_caller):
    m = planted.mark
    for caller in (witness, make_caller("verifier"), make_caller("admin")):
        source = caller.get(f"/v1/sources/{planted.source_id}").get_json()
        assert source["author"] == f"{m}-source-patch-author"
        assert not source["redacted"]
        claim = caller.get(f"/v1/claims/{planted.claim_id}").get_json()
        assert claim["sources"][0]["locator"] == f"{m}-edited-locator"
        history = caller.get(f"/v1/violations/{planted.violation_id}/history")
        text_ = history.get_data(as_text=True)
        # Both the first locator and its correction, to those who may see them.
        assert f"{m}-claim-locator" in text_ and f"{m}-edited-locator" in text_
        assert f"{m}-violation-locator" in text_


def test_history_marks_what_it_withholds(planted, make_caller):
    reader = make_caller("reader")
    items = reader.get(f"/v1/violations/{planted.violation_id}/history").get_json()["items"]
    edit = next(i for i in items if i["entity"] == "claim" and i["action"] == "update")
    before = edit["changes"]["sources"]["from"][0]
    after = edit["changes"]["sources"]["to"][0]
    assert before["locator"] == after["locator"] == {"redacted": "confidential"}
    assert before["source_id"] == planted.claim_source_id  # what is not secret stays


def test_the_stores_hold_no_marker_and_no_minted_key(app, planted):
    """The audit log and the idempotency store hold no confidential value in clear, and the
    minted key is in no table at all. Values live only in the record itself and in
    sealed_values, which an erasure destroys."""
    keep_values = {"sources", "claim_sources", "sealed_values"}
    with app.app_context(), db.session_scope(write=False) as session:
        tables = inspect(session.get_bind()).get_table_names()
        for table in tables:
            # Table names come from the database's own catalogue.
            rows = session.execute(text(f'SELECT * FROM "{table}"')).all()  # noqa: S608
            dump = "\n".join(repr(tuple(r)) for r in rows)
            assert planted.minted_key not in dump, table
            if table not in keep_values:
                assert planted.mark not in dump, f"a marker in clear in {table}"
        sealed = session.execute(
            select(SealedValue).where(SealedValue.value.contains(planted.mark))
        ).scalars()
        assert {row.source_id for row in sealed} >= {planted.source_id, planted.claim_source_id}


def test_the_chain_verifies_with_sealed_values(planted, make_caller):
    answer = make_caller("verifier").get("/v1/audit/verify").get_json()
    assert answer["ok"], answer
    assert answer["sealed"] > 0


def test_a_tampered_sealed_value_is_found(app, planted, make_caller):
    with app.app_context(), db.session_scope() as session:
        row = session.execute(
            select(SealedValue).where(SealedValue.source_id == planted.source_id).limit(1)
        ).scalar_one()
        original = row.value
        row.value = json.dumps("someone else")
    try:
        answer = make_caller("verifier").get("/v1/audit/verify").get_json()
        assert not answer["ok"]
        assert "does not match its commitment" in answer["reason"]
    finally:
        with app.app_context(), db.session_scope() as session:
            session.get(SealedValue, row.commitment).value = original


# --- idempotency after authorization ---------------------------------------------------------


def test_a_reader_cannot_replay_an_admins_key_creation(make_caller, admin):
    idem = {"Idempotency-Key": unique("onboard-ngo")}
    body = {"org": unique("ngo-d"), "role": "verifier"}
    first = admin.post("/v1/keys", json=body, headers=idem)
    assert first.status_code == 201
    reader = make_caller("reader", org=admin.org)
    replay = reader.post("/v1/keys", json=body, headers=idem)
    assert replay.status_code == 403
    assert "cl_" not in replay.get_data(as_text=True)
    # The admin's own retry: the key is not shown again, the created one is named.
    again = admin.post("/v1/keys", json=body, headers=idem)
    assert again.status_code == 409
    problem = again.get_json()
    assert problem["created_id"] == first.get_json()["id"]
    assert "revoke it" in problem["detail"]
    assert first.get_json()["key"] not in again.get_data(as_text=True)


def test_a_reader_cannot_replay_a_verifiers_answer(witness, make_caller):
    vid = witness.post("/v1/violations", json=violation_body(title=unique("v"))).get_json()["id"]
    verifier = make_caller("verifier")
    reader = make_caller("reader", org=verifier.org)
    idem = {"Idempotency-Key": unique("verdict")}
    body = {"verdict": "confirmed", "reason": "Imagery confirms it."}
    assert verifier.post(f"/v1/violations/{vid}/verdict", json=body, headers=idem).status_code in (
        200,
        201,
    )
    replay = reader.post(f"/v1/violations/{vid}/verdict", json=body, headers=idem)
    assert replay.status_code == 403
    assert "Idempotent-Replayed" not in replay.headers


def test_a_refused_request_is_not_replayed_to_another_key(make_caller, admin):
    reader = make_caller("reader", org=admin.org)
    idem = {"Idempotency-Key": unique("shared")}
    body = {"org": unique("ngo-e"), "role": "reader"}
    assert reader.post("/v1/keys", json=body, headers=idem).status_code == 403
    created = admin.post("/v1/keys", json=body, headers=idem)
    assert created.status_code == 201
    assert created.get_json()["key"].startswith("cl_")


def test_stored_answers_are_not_readable_from_the_table(app, witness):
    mark = _mark()
    idem = {"Idempotency-Key": unique("k")}
    first = witness.post("/v1/sources", json=_confidential(mark, "x"), headers=idem)
    replay = witness.post("/v1/sources", json=_confidential(mark, "x"), headers=idem)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == first.get_json()
    with app.app_context(), db.session_scope(write=False) as session:
        dump = repr(session.execute(text("SELECT * FROM idempotency_keys")).all())
    assert mark not in dump
    assert first.get_json()["id"] in dump  # what it showed is noted, for an erasure


# --- erasure -------------------------------------------------------------------------------


def test_erasure_destroys_the_values_and_keeps_the_chain(app, planted, witness, make_caller):
    m = planted.mark
    sid = planted.source_id
    outsider = make_caller("reporter")
    resp = outsider.post(f"/v1/sources/{sid}/erase", json={"reason": "not yours"})
    assert resp.status_code == 403
    resp = witness.post(f"/v1/sources/{sid}/erase", json={"reason": "The witness is in danger."})
    assert resp.status_code == 200, resp.get_json()
    tomb = resp.get_json()
    assert tomb["erased"] and tomb["erased_by"] == witness.org and tomb["erased_at"]
    assert tomb["author"] is tomb["url"] is tomb["archive_url"] is None
    assert all(e["url"] is None for e in tomb["editions"])
    assert witness.post(f"/v1/sources/{sid}/erase", json={"reason": "again"}).status_code == 409

    admin = make_caller("admin")
    for caller in (witness, admin):
        source = caller.get(f"/v1/sources/{sid}").get_json()
        assert source["author"] is None and source["erased"]
        history = caller.get(f"/v1/violations/{planted.violation_id}/history")
        text_ = history.get_data(as_text=True)
        assert f"{m}-cited-locator" not in text_
        assert f"{m}-source-patch-author" not in text_
        assert '"redacted":"erased"' in text_.replace(" ", "")
        violation = caller.get(f"/v1/violations/{planted.violation_id}").get_json()
        cited = [c for c in violation["claims"][0]["sources"] if c["source_id"] == sid]
        assert cited and cited[0]["locator"] is None
    # Other sources keep theirs.
    other = witness.get(f"/v1/sources/{planted.claim_source_id}").get_json()
    assert other["author"] == f"{m}-claim-inline-author"

    verify = make_caller("verifier").get("/v1/audit/verify").get_json()
    assert verify["ok"], verify
    with app.app_context(), db.session_scope(write=False) as session:
        assert not session.execute(
            select(SealedValue).where(SealedValue.source_id == sid)
        ).first()
        erase = session.execute(
            select(AuditEntry).where(AuditEntry.entity_id == sid, AuditEntry.action == "erase")
        ).scalar_one()
        assert erase.actor_org == witness.org
    # A later PATCH cannot put an identity back.
    resp = witness.patch_fresh(f"/v1/sources/{sid}", {"author": "someone"})
    assert resp.status_code == 422


def test_an_admin_of_another_organisation_may_erase(planted, make_caller):
    resp = make_caller("admin").post(
        f"/v1/sources/{planted.claim_source_id}/erase", json={"reason": "At the NGO's request."}
    )
    assert resp.status_code == 200
    assert resp.get_json()["erased"]


def test_erasure_leaves_no_byte_in_the_sqlite_file(app, planted, witness, is_postgres):
    if is_postgres:
        pytest.skip("SQLite: on PostgreSQL dead tuples are the DBA's (README)")
    sid = planted.claim_source_id
    resp = witness.post(f"/v1/sources/{sid}/erase", json={"reason": "Witness in danger."})
    assert resp.status_code == 200
    with app.app_context():
        path = db.get_engine().url.database
    needle = f"{planted.mark}-claim-inline".encode()
    for suffix in ("", "-wal"):
        try:
            with open(path + suffix, "rb") as handle:
                content = handle.read()
        except FileNotFoundError:
            continue
        assert needle not in content, f"the erased values are still in {path}{suffix}"
    # The other sources of the sweep are still there, so the file was looked at.
    with open(path, "rb") as handle:
        content = handle.read()
    with open(path + "-wal", "rb") as handle:
        content += handle.read()
    assert f"{planted.mark}-batch-inline".encode() in content


def test_an_erased_sources_stored_answers_are_destroyed(app, witness):
    mark = _mark()
    idem = {"Idempotency-Key": unique("k")}
    body = _confidential(mark, "y")
    sid = witness.post("/v1/sources", json=body, headers=idem).get_json()["id"]
    assert witness.post(f"/v1/sources/{sid}/erase", json={"reason": "danger"}).status_code == 200
    with app.app_context(), db.session_scope(write=False) as session:
        dump = repr(session.execute(text("SELECT * FROM idempotency_keys")).all())
    assert sid not in dump.replace(f"/v1/sources/{sid}/erase", "")


# --- change feed ---------------------------------------------------------------------------


def test_organisation_and_key_entries_are_for_admins_only(admin, make_caller, make_app):
    org = unique("small-monitoring-group")
    assert admin.post("/v1/keys", json={"org": org, "role": "reader"}).status_code == 201

    def entities(caller):
        seen = []
        after = 0
        while True:
            page = caller.get(f"/v1/changes?after={after}&limit=500").get_json()
            seen += [(i["entity"], i["entity_id"]) for i in page["items"]]
            if not page["has_more"]:
                return seen
            after = page["next_cursor"]

    assert ("organisation", org) in entities(admin)
    public = make_app(PUBLIC_READS=True)
    anonymous = Caller(client=public.test_client(), key=None, org=None, role=None)
    for caller in (make_caller("reader"), make_caller("verifier"), anonymous):
        kinds = {entity for entity, _ in entities(caller)}
        assert not kinds & {"organisation", "api_key"}, caller.role
