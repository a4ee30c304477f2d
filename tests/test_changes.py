"""GET /v1/changes: every write in commit order; a poller never misses one, even under
concurrent writers."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sqlalchemy import func, select

from service import db
from service.auth import Principal
from service.core import violations as violations_core
from service.models import AuditEntry
from tests.conftest import Caller, error_fields
from tests.scenario import claim, party, violation, violation_body


def head(app) -> int:
    with app.app_context(), db.session_scope(write=False) as session:
        return session.execute(select(func.coalesce(func.max(AuditEntry.seq), 0))).scalar()


def committed_after(app, after: int) -> list[tuple[int, str, str, str]]:
    with app.app_context(), db.session_scope(write=False) as session:
        rows = session.execute(
            select(AuditEntry.seq, AuditEntry.action, AuditEntry.entity, AuditEntry.entity_id)
            .where(AuditEntry.seq > after)
            .order_by(AuditEntry.seq)
        )
        return [tuple(r) for r in rows]


def poll(caller, after, limit=50) -> dict:
    resp = caller.get("/v1/changes", query_string={"after": after, "limit": limit})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_every_kind_of_write_in_commit_order(app, reporter, verifier):
    who = party(reporter)
    start = head(app)
    v = violation(
        reporter,
        claims=[{"claimant": who, "stance": "alleges", "statement": "Shelling."}],
    )
    c = claim(reporter, v["id"], claimant=who, stance="corroborates")
    assert reporter.patch_fresh(f"/v1/claims/{c['id']}", {"statement": "Edited."}).status_code
    resp = reporter.post(f"/v1/claims/{c['id']}/withdraw", json={"reason": "Mistaken."})
    assert resp.status_code == 200, resp.get_json()
    resp = verifier.post(
        f"/v1/violations/{v['id']}/verdict", json={"verdict": "confirmed", "reason": "Imagery."}
    )
    assert resp.status_code == 200, resp.get_json()
    resp = reporter.post(
        f"/v1/violations/{v['id']}/verdict", json={"verdict": "retracted", "reason": "Wrong."}
    )
    assert resp.status_code == 200, resp.get_json()

    body = poll(reporter, start)
    items = body["items"]
    assert [i["seq"] for i in items] == list(range(start + 1, start + 1 + len(items)))
    first_claim = v["claims"][0]["id"]
    assert [(i["action"], i["entity"], i["entity_id"], i["actor"]) for i in items] == [
        ("create", "violation", v["id"], reporter.org),
        ("create", "claim", first_claim, reporter.org),
        ("create", "claim", c["id"], reporter.org),
        ("update", "claim", c["id"], reporter.org),
        ("withdraw", "claim", c["id"], reporter.org),
        ("verdict", "violation", v["id"], verifier.org),
        ("verdict", "violation", v["id"], reporter.org),  # the retraction
    ]
    assert all(i["violation_id"] == v["id"] for i in items)
    times = [datetime.fromisoformat(i["at"]) for i in items]
    assert times == sorted(times)
    assert body["next_cursor"] == str(items[-1]["seq"]) and body["has_more"] is False


def test_an_empty_poll_hands_back_a_usable_cursor(app, reader):
    now = head(app)
    body = poll(reader, now)
    assert body == {"items": [], "next_cursor": str(now), "has_more": False}
    body = poll(reader, now + 1000)
    assert body["items"] == [] and body["next_cursor"] == str(now + 1000)


def test_pages_follow_with_has_more_and_link(app, reporter):
    start = head(app)
    for _ in range(5):
        violation(reporter)
    resp = reporter.get("/v1/changes", query_string={"after": start, "limit": 2})
    body = resp.get_json()
    assert [i["seq"] for i in body["items"]] == [start + 1, start + 2]
    assert body["has_more"] is True and body["next_cursor"] == str(start + 2)
    assert resp.headers["Link"].endswith(f'?after={start + 2}&limit=2>; rel="next"')


def test_a_client_following_link_headers_reaches_the_end(app, reporter):
    """rel="next" only while there is more: `requests`-style link following stops."""
    start = head(app)
    for _ in range(3):
        violation(reporter)
    url, pages = f"/v1/changes?after={start}&limit=2", 0
    while url is not None and pages < 10:
        resp = reporter.get(url)
        pages += 1
        link = resp.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
    body = resp.get_json()
    assert body["has_more"] is False and pages < 10
    assert "Link" not in resp.headers


def test_paged_answers_declare_their_link_header(app):
    spec = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    paged = [
        op["responses"]["200"]
        for item in spec["paths"].values()
        for method, op in item.items()
        if method == "get" and "Page" in str(op["responses"].get("200", {}).get("content", {}))
    ]
    assert len(paged) >= 6
    for response in paged:
        assert "Link" in response.get("headers", {}), response


def test_bad_parameters_are_named_and_a_key_is_needed(reader, anonymous):
    resp = reader.get("/v1/changes", query_string={"after": "abc", "limit": 0, "since": 1})
    assert resp.status_code == 422
    assert {"query.after", "query.limit", "query.since"} <= set(error_fields(resp))
    assert reader.get("/v1/changes", query_string={"after": -1}).status_code == 422
    assert anonymous.get("/v1/changes").status_code == 401


def _core_create(app, actor: Principal, title: str, hold: tuple | None = None) -> str:
    """A violation written straight through the core, in its own transaction. With hold =
    (written, release): signal once the violation is written, commit only when released."""
    with app.app_context(), db.session_scope() as session:
        v = violations_core.create(
            session, actor, {"title": title, "category": "other", "occurred_at": datetime.now(UTC)}
        )
        if hold is not None:
            written, release = hold
            written.set()
            release.wait(10)
        return v.id


def test_entries_are_numbered_in_commit_order(app, reporter, reader, is_postgres):
    """A create's audit entry takes its number when its transaction commits, under the chain
    head's lock. On PostgreSQL, writer B, which commits while A is still open, is numbered
    first and A next; SQLite lets one writer at a time, so B waits for A and follows it. Either
    way a poller that has seen an entry never later finds one numbered before it."""
    actor = Principal(org=reporter.org, role="reporter", key_id=None)
    start = head(app)
    written, release = threading.Event(), threading.Event()
    ids: dict[str, str] = {}

    def writer(name, hold=None):
        ids[name] = _core_create(app, actor, name, hold)

    a = threading.Thread(target=writer, args=("A", (written, release)))
    a.start()
    try:
        assert written.wait(10), "A did not get to write"
        b = threading.Thread(target=writer, args=("B",))
        b.start()
        b.join(1 if is_postgres else 0.3)
        if is_postgres:
            assert not b.is_alive(), "B, committing first, must not wait for A"
            seen = poll(reader, start)["items"]
            assert [(i["seq"], i["entity_id"]) for i in seen] == [(start + 1, ids["B"])]
        else:
            assert b.is_alive(), "SQLite: B waits for A's write transaction"
            assert poll(reader, start)["items"] == []
    finally:
        release.set()
    a.join(10)
    b.join(10)
    order = ["B", "A"] if is_postgres else ["A", "B"]
    items = poll(reader, start)["items"]
    assert [(i["seq"], i["entity_id"]) for i in items] == [
        (start + 1, ids[order[0]]),
        (start + 2, ids[order[1]]),
    ]
    assert poll(reader, start + 1)["items"] == items[1:]


def test_concurrent_writers_and_a_polling_reader(app, make_caller, is_postgres):
    """Writers on their own clients (own connections) commit concurrently; a reader polls with
    small pages all along. What it saw equals what was committed: no gap, no repeat."""
    writers = [make_caller("reporter") for _ in range(4)]
    reader = make_caller("reader")
    target = party(writers[0])
    per_writer = 4
    start = head(app)
    done = threading.Event()
    errors: list[BaseException] = []
    written: dict[str, list[str]] = {w.org: [] for w in writers}

    def write(w: Caller):
        try:
            caller = Caller(client=app.test_client(), key=w.key, org=w.org, role=w.role)
            for i in range(per_writer):
                v = violation(caller, title=f"Concurrent {i}", attributed_party=target)
                c = claim(caller, v["id"], claimant=target, stance="denies")
                written[w.org] += [v["id"], c["id"]]
        except BaseException as exc:  # surfaced by the main thread
            errors.append(exc)

    seen: list[dict] = []
    polls_meanwhile: list[int] = []

    def read():
        try:
            caller = Caller(client=app.test_client(), key=reader.key, org=None, role="reader")
            cursor = start
            while True:
                finished = done.is_set()
                body = poll(caller, cursor, limit=3)
                seqs = [i["seq"] for i in body["items"]]
                # Every page continues exactly where the last one ended.
                assert seqs == list(range(cursor + 1, cursor + 1 + len(seqs))), (cursor, seqs)
                seen.extend(body["items"])
                if seqs and not finished:
                    polls_meanwhile.append(len(seqs))
                cursor = int(body["next_cursor"])
                if finished and not body["has_more"]:
                    return
                if not seqs:
                    time.sleep(0.005)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in writers]
    poller = threading.Thread(target=read)
    poller.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    done.set()
    poller.join(60)
    assert not errors, errors
    assert not poller.is_alive()

    committed = committed_after(app, start)
    assert [(i["seq"], i["action"], i["entity"], i["entity_id"]) for i in seen] == committed
    ours = {i["entity_id"] for i in seen if i["actor"] in written}
    assert ours == {x for ids in written.values() for x in ids}
    assert len([i for i in seen if i["actor"] in written]) == 2 * per_writer * len(writers)
    assert polls_meanwhile, "the reader never polled while the writers wrote"


def test_a_batch_with_a_refused_item_leaves_no_gap(app, reporter):
    """Items of a batch are atomic each (a failed one is rolled back to its savepoint); the
    feed still numbers what was committed without a gap."""
    start = head(app)
    items = [violation_body(title=f"Batch {i}") for i in range(4)]
    items[2]["attributed_party"] = "no-such-party"
    resp = reporter.post("/v1/violations/batch", json={"items": items})
    assert resp.status_code == 200, resp.get_json()
    results = resp.get_json()["results"]
    created = [r["id"] for r in results if r["status"] == 201]
    assert len(created) == 3
    body = poll(reporter, start)
    assert [i["seq"] for i in body["items"]] == list(range(start + 1, start + 1 + 3))
    assert [i["entity_id"] for i in body["items"]] == created
    assert committed_after(app, start) == [
        (i["seq"], i["action"], i["entity"], i["entity_id"]) for i in body["items"]
    ]
