"""POST /v1/violations/batch: per-item results in order, each item atomic on its own."""

import pytest
from sqlalchemy import func, select

from service import db
from service.auth import Principal
from service.core import audit, batch, bulk, rows
from service.models import AuditEntry, Claim, Source, Violation
from service.resources.violations.schemas import ViolationCreateSchema
from tests.conftest import error_fields, problem_of, unique
from tests.scenario import agreement, party, source, violation_body


def _status(result) -> int:
    """The status the batch API answers for an item (201, or its error's)."""
    from service.errors import answer_for

    return 201 if result.error is None else answer_for(result.error)[0]

def _count(model, *where) -> int:
    with db.session_scope(write=False) as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _titled(marker: str) -> int:
    return _count(Violation, Violation.title.like(f"{marker}%"))


def _inline_claim(claimant: str, publisher: str, **kw) -> dict:
    claim = {
        "claimant": claimant,
        "stance": "alleges",
        "statement": "Shells fell on the village at dawn.",
        "asserts": {"killed": 3},
        "sources": [
            {
                "source": {"kind": "news_article", "title": "Report", "publisher": publisher},
                "excerpt": "shells fell",
                "locator": "para. 2",
            }
        ],
    }
    claim.update(kw)
    return claim


def test_good_and_bad_items_answer_in_order_and_only_good_ones_stay(reporter):
    marker = unique("batch")
    monitor, other_monitor = party(reporter, kind="monitor"), party(reporter, kind="monitor")
    perpetrator = party(reporter, kind="armed_force")
    publisher = unique("publisher")
    items = [
        violation_body(title=f"{marker} plain", attributed_party=perpetrator),
        violation_body(
            title=f"{marker} high below best",
            casualties={"killed": {"low": 1, "best": 5, "high": 2}},
        ),
        violation_body(
            title=f"{marker} with claims",
            claims=[
                _inline_claim(monitor, publisher),
                _inline_claim(other_monitor, unique("publisher"), asserts={"killed": 4}),
            ],
        ),
        violation_body(title=f"{marker} unknown party", attributed_party="no-such-party"),
        violation_body(title=f"{marker} unknown field", bogus=True),
        violation_body(
            title=f"{marker} claim by unknown party",
            claims=[_inline_claim("no-such-monitor", publisher)],
        ),
        "not an object",
        violation_body(title=f"{marker} last"),
    ]
    resp = reporter.post("/v1/violations/batch", json={"items": items})
    assert resp.status_code == 200, resp.get_json()
    results = resp.get_json()["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    assert [r["status"] for r in results] == [201, 422, 201, 422, 422, 422, 422, 201]
    for r in results:
        assert ("id" in r) == (r["status"] == 201)
        assert ("errors" in r) == (r["status"] != 201)

    def fields(i):
        return {e["field"]: e["reason"] for e in results[i]["errors"]}

    assert "casualties.killed.high" in fields(1)
    assert "no-such-party" in fields(3)["attributed_party"]
    assert "bogus" in fields(4)
    assert "claims.0.claimant" in fields(5)
    assert fields(6) == {"body": "Invalid input type."}

    plain = reporter.get(f"/v1/violations/{results[0]['id']}").get_json()
    assert plain["title"] == f"{marker} plain"
    assert plain["attributed_party"] == perpetrator
    assert plain["reported_by"] == reporter.org
    assert plain["status_history"][0]["to"] == "reported"
    claimed = reporter.get(f"/v1/violations/{results[2]['id']}").get_json()
    assert [c["claimant"] for c in claimed["claims"]] == [monitor, other_monitor]
    assert claimed["claims"][0]["sources"][0]["source"]["publisher"] == publisher
    assert claimed["claims"][0]["sources"][0]["locator"] == "para. 2"
    assert claimed["status"] == "corroborated"  # two independent publishers
    assert [f["fact"] for f in claimed["contested_facts"]] == ["killed"]
    assert reporter.get(f"/v1/violations/{results[7]['id']}").status_code == 200

    # The failed items left nothing: no violation, and the unknown claimant's source is not there.
    assert _titled(marker) == 3
    assert _count(Source, Source.publisher == publisher) == 1
    with db.session_scope(write=False) as session:
        assert audit.verify(session)["ok"]


def test_more_than_1000_items_is_refused_whole(reporter):
    marker = unique("too-many")
    resp = reporter.post(
        "/v1/violations/batch", json={"items": [violation_body(title=marker)] * 1001}
    )
    assert resp.status_code == 422
    problem_of(resp)
    assert "items" in error_fields(resp)
    assert _titled(marker) == 0


@pytest.mark.parametrize(
    "body", [{}, {"items": []}, {"items": {"title": "x"}}, {"items": [], "x": 1}]
)
def test_envelope_must_hold_items(reporter, body):
    resp = reporter.post("/v1/violations/batch", json=body)
    assert resp.status_code == 422
    assert set(error_fields(resp)) & {"items", "x"}


def test_needs_the_reporter_role(reader, anonymous):
    body = {"items": [violation_body()]}
    assert reader.post("/v1/violations/batch", json=body).status_code == 403
    assert anonymous.post("/v1/violations/batch", json=body).status_code == 401


def test_items_are_checked_like_single_posts(reporter):
    """Each item's status and fields are what POST /v1/violations answers for it alone."""
    bad = violation_body(agreement="no-such-agreement", provisions=["dmz"])
    single = reporter.post("/v1/violations", json=bad)
    resp = reporter.post("/v1/violations/batch", json={"items": [bad]})
    (result,) = resp.get_json()["results"]
    assert result["status"] == single.status_code == 422
    assert {e["field"]: e["reason"] for e in result["errors"]} == error_fields(single)


def test_a_database_conflict_fails_only_its_item(app, reporter):
    """An item that breaks a constraint at flush time rolls back alone, whichever chunk it is in,
    and the audit chain stays whole."""
    marker = unique("conflict")
    taken = f"test:{marker}"
    actor = Principal(org=reporter.org, role="reporter", key_id=None)
    schema = ViolationCreateSchema()
    items = []
    for i in range(7):
        data = schema.load(violation_body(title=f"{marker} {i}"))
        if i in (2, 5):
            data["external_ref"] = taken  # unique: the second one cannot be inserted
        items.append((i, data))
    before = _count(AuditEntry)
    with db.session_scope() as session:
        results = batch.create_violations(session, actor, items, chunk_size=3)
    assert [_status(r) for r in results] == [201, 201, 201, 201, 201, 409, 201]
    assert results[5].error.errors and results[5].error.errors[0]["field"] == "body"
    assert _titled(marker) == 6
    # One audit entry per violation recorded, none for the one that failed.
    assert _count(AuditEntry) - before == 6
    with db.session_scope(write=False) as session:
        assert audit.verify(session)["ok"]


def test_claim_counts_and_sources_stay_per_item(reporter):
    """A batch reuses nothing between items: each gets its own claims and inline sources."""
    monitor = party(reporter, kind="monitor")
    publisher = unique("publisher")
    items = [violation_body(claims=[_inline_claim(monitor, publisher)]) for _ in range(3)]
    results = reporter.post("/v1/violations/batch", json={"items": items}).get_json()["results"]
    ids = [r["id"] for r in results]
    assert len(set(ids)) == 3
    assert _count(Claim, Claim.violation_id.in_(ids)) == 3
    assert _count(Source, Source.publisher == publisher) == 3


def test_an_item_refused_half_way_leaves_nothing(app, reporter, monkeypatch):
    """An item refused while its rows are being built (after its claim, source and status
    rows) leaves none of them behind; the items around it in the chunk stand."""
    from service.errors import ValidationFailed
    from service.models import StatusChange

    marker = unique("late")
    real_document = bulk.search.search_document

    def search_document(title, description, texts):
        if title.endswith("late-refusal"):
            raise ValidationFailed({"title": "refused half-way"})
        return real_document(title, description, texts)

    monkeypatch.setattr(bulk.search, "search_document", search_document)
    monitor = party(reporter, kind="monitor")
    publisher = unique("publisher")
    actor = Principal(org=reporter.org, role="reporter", key_id=None)
    schema = ViolationCreateSchema()
    titles = [f"{marker} a", f"{marker} late-refusal", f"{marker} b"]
    items = [
        (i, schema.load(violation_body(title=t, claims=[_inline_claim(monitor, publisher)])))
        for i, t in enumerate(titles)
    ]
    before = _count(AuditEntry)
    changes_before = _count(StatusChange)
    with db.session_scope() as session:
        results = batch.create_violations(session, actor, items)
    assert [_status(r) for r in results] == [201, 422, 201]
    assert results[1].error.errors == [{"field": "title", "reason": "refused half-way"}]
    assert _titled(marker) == 2
    # Per stored item: its violation, its inline source and its claim are audited.
    assert _count(AuditEntry) - before == 6
    assert _count(Source, Source.publisher == publisher) == 2
    assert _count(StatusChange) - changes_before == 2
    with db.session_scope(write=False) as session:
        assert audit.verify(session)["ok"]


def test_one_idempotency_key_covers_the_whole_batch(reporter):
    """A script that retries a batch after a network error records it once."""
    marker = unique("retry")
    body = {"items": [violation_body(title=f"{marker} {i}") for i in range(3)]}
    headers = {"Idempotency-Key": unique("key")}
    first = reporter.post("/v1/violations/batch", json=body, headers=headers)
    again = reporter.post("/v1/violations/batch", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert _titled(marker) == 3


def test_batch_items_are_found_by_what_they_and_their_claims_say(reporter):
    """Items written a chunk at a time are searchable like single posts, claims included."""
    monitor = party(reporter, kind="monitor")
    title_word, claim_word = unique("zqtitle"), unique("zqclaim")
    items = [
        violation_body(title=f"Shelling {title_word}"),
        violation_body(
            claims=[_inline_claim(monitor, unique("publisher"), statement=f"It was {claim_word}")]
        ),
    ]
    results = reporter.post("/v1/violations/batch", json={"items": items}).get_json()["results"]
    for word, result in zip((title_word, claim_word), results, strict=True):
        found = reporter.get("/v1/violations", query_string={"q": word}).get_json()["items"]
        assert [v["id"] for v in found] == [result["id"]], word


def _without_ids(value, ids: dict[str, str]):
    """The same structure with generated ids replaced by stable names; times dropped, and the
    row version too (a concurrency token: it counts the UPDATEs a path happened to make)."""
    if isinstance(value, dict):
        return {
            k: _without_ids(v, ids)
            for k, v in value.items()
            if k not in {"created_at", "updated_at", "at", "seq", "version"}
        }
    if isinstance(value, list):
        return [_without_ids(v, ids) for v in value]
    if isinstance(value, str):
        for real, name in ids.items():
            value = value.replace(real, name)
        return value
    return value


def _readback(caller, vid: str) -> dict:
    view = caller.get(f"/v1/violations/{vid}").get_json()
    history = caller.get(f"/v1/violations/{vid}/history").get_json()["items"]
    ids = {vid: "violation"}
    for i, claim in enumerate(view["claims"]):
        ids[claim["id"]] = f"claim-{i}"
        for j, link in enumerate(claim["sources"]):
            sid = link.get("source_id") or link["source"]["id"]
            ids.setdefault(sid, f"source-{i}-{j}")
    return _without_ids({"view": view, "history": history}, ids)


def test_a_batch_item_is_stored_exactly_as_a_single_post(reporter):
    """A single POST writes its few rows in one statement per table; a batch chunk writes
    enough rows that PostgreSQL gets them by COPY. What each stores must read back the same:
    fields, derived status and history, claims, sources, audit."""
    zone = agreement(reporter)
    accused, accuser = party(reporter, kind="armed_force"), party(reporter, kind="state")
    other = party(reporter, kind="armed_group")
    cited = source(reporter)
    publisher = unique("publisher")

    def body(title: str) -> dict:
        return violation_body(
            title=title,
            description="Shells fell on the market at dawn.",
            agreement=zone["id"],
            provisions=[zone["provisions"][0]["code"]],
            attributed_party=accused,
            affected_parties=[other, accuser],
            casualties={
                "killed": {"low": 2, "best": 3, "high": 5},
                "civilian": {"injured": {"best": 1}},
            },
            tags=["market", "dawn"],
            claims=[
                _inline_claim(
                    accuser,
                    publisher,
                    translations=[{"language": "ar", "text": "سقطت القذائف"}],
                    made_at="2018-11-09T10:00:00Z",
                    credibility=2,
                ),
                {
                    "claimant": accused,
                    "stance": "denies",
                    "statement": "No shells were fired.",
                    "asserts": {"killed": 0},
                    "sources": [
                        {"source_id": cited, "excerpt": "no shells", "locator": "p. 1"},
                        {
                            "source": {
                                "kind": "official_statement",
                                "title": "Denial",
                                "publisher": publisher,
                            }
                        },
                    ],
                },
            ],
        )

    single = reporter.post("/v1/violations", json=body("Shelling, the same twice"))
    assert single.status_code == 201, single.get_json()["errors"]
    # Enough others in the chunk for every table to pass rows.COPY_FROM rows.
    others = [
        violation_body(title=f"filler {i}", claims=[_inline_claim(accuser, publisher)])
        for i in range(rows.COPY_FROM)
    ]
    batched = reporter.post(
        "/v1/violations/batch", json={"items": [body("Shelling, the same twice"), *others]}
    )
    result = batched.get_json()["results"][0]
    assert result["status"] == 201, result
    one, other_one = _readback(reporter, single.get_json()["id"]), _readback(reporter, result["id"])
    assert one["view"]["status"] == "disputed"
    assert one == other_one
    with db.session_scope(write=False) as session:
        assert audit.verify(session)["ok"]


def test_a_batch_locks_the_audit_chain_only_at_commit(app, reporter, engine, is_postgres):
    """While a batch writes its rows, other writers can still append to the audit chain: the
    head is locked only when the batch commits, and then every entry is chained in order."""
    if not is_postgres:
        pytest.skip("SQLite serializes whole write transactions; there is no row lock to see")
    from sqlalchemy import text

    marker = unique("unlocked")
    actor = Principal(org=reporter.org, role="reporter", key_id=None)
    schema = ViolationCreateSchema()
    items = [(i, schema.load(violation_body(title=f"{marker} {i}"))) for i in range(5)]
    before = _count(AuditEntry)
    with db.session_scope() as session:
        results = batch.create_violations(session, actor, items, chunk_size=2)
        assert [_status(r) for r in results] == [201] * 5
        with engine.connect() as other:
            other.execute(text("SET lock_timeout = '2s'"))
            # Another writer takes and moves the head while the batch is still open.
            other.execute(text("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE NOWAIT"))
            other.rollback()
    assert _titled(marker) == 5
    assert _count(AuditEntry) - before == 5
    with db.session_scope(write=False) as session:
        assert audit.verify(session)["ok"]


def test_concurrent_batches_each_stand_whole_and_the_chain_verifies(app, reporter):
    """Batches posted at once are written side by side: every item of each is recorded once,
    each with its audit entry, and the chain verifies."""
    import threading

    marker = unique("side-by-side")
    monitor = party(reporter, kind="monitor")
    headers = {"Authorization": f"Bearer {reporter.key}"}
    bodies = [
        {
            "items": [
                violation_body(
                    title=f"{marker} {b}-{i}",
                    claims=[_inline_claim(monitor, unique("publisher"))],
                )
                for i in range(40)
            ]
        }
        for b in range(3)
    ]
    statuses: list[list[int]] = [[] for _ in bodies]
    barrier = threading.Barrier(len(bodies))

    def post(b: int) -> None:
        client = app.test_client()
        barrier.wait()
        resp = client.post("/v1/violations/batch", json=bodies[b], headers=headers)
        statuses[b] = [r["status"] for r in resp.get_json()["results"]]

    threads = [threading.Thread(target=post, args=(b,)) for b in range(len(bodies))]
    before = _count(AuditEntry)
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses == [[201] * 40] * 3
    assert _titled(marker) == 120
    # Each item: its violation, its claim and the claim's inline source.
    assert _count(AuditEntry) - before == 360
    with db.session_scope(write=False) as session:
        assert audit.verify(session)["ok"]


def test_a_chunk_redone_item_by_item_reuses_sources_its_items_created(app, reporter):
    """When the database refuses a chunk, its items are redone one by one; an item citing an
    inline source (by external_ref) that an earlier item of that chunk created links to it
    instead of failing on the duplicate."""
    marker = unique("redo")
    monitor = party(reporter, kind="monitor")
    taken = f"test:{marker}"
    shared = f"test:{marker}:source"
    actor = Principal(org=reporter.org, role="reporter", key_id=None)
    schema = ViolationCreateSchema()
    items = []
    for i in range(4):
        data = schema.load(
            violation_body(title=f"{marker} {i}", claims=[_inline_claim(monitor, "Publisher")])
        )
        data["claims"][0]["sources"][0]["source"]["external_ref"] = shared
        if i in (1, 2):
            data["external_ref"] = taken  # unique: item 2 cannot be inserted
        items.append((i, data))
    before = _count(AuditEntry)
    with db.session_scope() as session:
        results = batch.create_violations(session, actor, items)
    assert [_status(r) for r in results] == [201, 201, 409, 201]
    assert _count(Source, Source.external_ref == shared) == 1
    # Three violations and their claims, and the one source.
    assert _count(AuditEntry) - before == 7
    with db.session_scope(write=False) as session:
        assert audit.verify(session)["ok"]
