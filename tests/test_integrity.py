"""Integrity: idempotent POSTs, lost updates, rate limits, a tamper-evident audit log, and
database trouble answered with 503."""

import json
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from service import create_app, db
from service.models import IdempotencyKey, Violation, utcnow
from tests.conftest import error_fields, key_id_of, unique
from tests.factories import PartyPayload
from tests.scenario import party, violation, violation_body


def _count_titled(app, title):
    with app.app_context(), db.session_scope(write=False) as s:
        return s.execute(
            select(func.count()).select_from(Violation).where(Violation.title == title)
        ).scalar()


def test_same_key_same_body_replays_the_first_response(app, reporter):
    body = violation_body(title=unique("idem"))
    headers = {"Idempotency-Key": unique("k")}
    first = reporter.post("/v1/violations", json=body, headers=headers)
    second = reporter.post("/v1/violations", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.get_json() == first.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["ETag"] == first.headers["ETag"]
    assert _count_titled(app, body["title"]) == 1


def test_same_key_other_body_is_422(reporter):
    headers = {"Idempotency-Key": unique("k")}
    assert reporter.post("/v1/parties", json=PartyPayload(), headers=headers).status_code == 201
    resp = reporter.post("/v1/parties", json=PartyPayload(), headers=headers)
    assert resp.status_code == 422
    assert "headers.Idempotency-Key" in error_fields(resp)


def test_keys_are_scoped_to_the_api_key_that_sent_them(app, reporter, make_caller):
    """Another key, of another organisation or of the same one, gets no replay: it does the
    work itself."""
    key = {"Idempotency-Key": unique("shared")}
    other_org = make_caller("reporter")
    same_org = make_caller("reporter", org=reporter.org)
    title = unique("scoped")
    for caller in (reporter, other_org, same_org):
        resp = caller.post("/v1/violations", json=violation_body(title=title), headers=key)
        assert resp.status_code == 201
        assert "Idempotent-Replayed" not in resp.headers
    assert _count_titled(app, title) == 3


def test_refused_requests_are_not_kept(app, reporter):
    """A 4xx is not stored: the same key answers again from what the request now is, and can
    carry the request once its cause is fixed."""
    key = {"Idempotency-Key": unique("k")}
    title = unique("refused")
    bad = violation_body(title=title, category="nonsense")
    first = reporter.post("/v1/violations", json=bad, headers=key)
    again = reporter.post("/v1/violations", json=bad, headers=key)
    assert first.status_code == again.status_code == 422
    assert "Idempotent-Replayed" not in again.headers
    fixed = reporter.post("/v1/violations", json=violation_body(title=title), headers=key)
    assert fixed.status_code == 201
    assert _count_titled(app, title) == 1
    with app.app_context(), db.session_scope(write=False) as s:
        rows = s.execute(select(IdempotencyKey).where(IdempotencyKey.key == key["Idempotency-Key"]))
        assert [r.status for r in rows.scalars()] == [201]


def test_retry_while_first_runs_is_409_and_a_dead_first_frees_the_key(app, reporter, is_postgres):
    if not is_postgres:
        pytest.skip("on SQLite writers queue for the database lock: a retry waits, then replays")
    key = unique("k")
    engine = app.extensions["ledger.db"][0]
    # The first attempt has claimed the key and is still working: its transaction is open.
    first = engine.connect()
    first.begin()
    now = utcnow()
    first.execute(
        IdempotencyKey.__table__.insert().values(
            api_key_id=key_id_of(app, reporter),
            key=key,
            fingerprint="f" * 64,
            state="in_progress",
            headers={},
            created_at=now,
            updated_at=now,
            expires_at=now + timedelta(hours=24),
        )
    )
    try:
        resp = reporter.post("/v1/parties", json=PartyPayload(), headers={"Idempotency-Key": key})
        assert resp.status_code == 409
        # Retry-After belongs to 429 and 503 only (RFC 9110); the detail says to retry shortly.
        assert "Retry-After" not in resp.headers
    finally:
        first.rollback()  # the worker dies: its transaction, claim included, is gone
        first.close()
    resp = reporter.post("/v1/parties", json=PartyPayload(), headers={"Idempotency-Key": key})
    assert resp.status_code == 201


def test_a_server_error_leaves_the_key_free_for_the_retry(reporter, monkeypatch):
    from service.core import parties as core

    real_create = core.create
    calls = []

    def failing_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("worker trouble")
        return real_create(*args, **kwargs)

    monkeypatch.setattr(core, "create", failing_once)
    body, key = PartyPayload(), {"Idempotency-Key": unique("k")}
    assert reporter.post("/v1/parties", json=body, headers=key).status_code == 500
    retry = reporter.post("/v1/parties", json=body, headers=key)
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry.headers


def test_malformed_key_is_422(reporter):
    resp = reporter.post("/v1/parties", json=PartyPayload(), headers={"Idempotency-Key": "x" * 300})
    assert "headers.Idempotency-Key" in error_fields(resp)


def _parallel(n, work):
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_twenty_parallel_posts_with_one_key_make_one_record(app, reporter):
    title = unique("parallel")
    body = violation_body(title=title)
    key = {"Idempotency-Key": unique("k"), "Authorization": f"Bearer {reporter.key}"}

    def post(_i):
        return app.test_client().post("/v1/violations", json=body, headers=key).status_code

    statuses = _parallel(20, post)
    assert _count_titled(app, title) == 1
    assert set(statuses) <= {201, 409}
    assert 201 in statuses
    # Once the first has finished, every retry gets its answer.
    again = app.test_client().post("/v1/violations", json=body, headers=key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"


def test_an_answer_committed_while_a_retry_looks_is_replayed_not_redone(
    app, reporter, database_url, monkeypatch
):
    """The window between a retry's look at its key and its claim: should the first request
    commit its answer right then, the retry must replay that answer, not overwrite it and
    record the violation a second time."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite serializes writers (BEGIN IMMEDIATE): this window cannot open there")
    from service import idempotency

    title = unique("window")
    body = violation_body(title=title)
    headers = {"Idempotency-Key": unique("k"), "Authorization": f"Bearer {reporter.key}"}
    real_claim = idempotency._claim
    first: dict = {}

    def claim_after_the_first_answered(session, row, **kw):
        if not first:
            # The first request runs to its commit while this one has looked and found nothing.
            first["started"] = True
            first["response"] = app.test_client().post("/v1/violations", json=body, headers=headers)
        return real_claim(session, row, **kw)

    monkeypatch.setattr(idempotency, "_claim", claim_after_the_first_answered)
    retry = app.test_client().post("/v1/violations", json=body, headers=headers)
    assert first["response"].status_code == 201
    assert retry.status_code == 201
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert retry.get_json()["id"] == first["response"].get_json()["id"]
    assert _count_titled(app, title) == 1


@pytest.mark.parametrize("resource", ["violation", "party"])
def test_two_patches_with_one_etag_one_wins(app, reporter, resource):
    path = (
        f"/v1/violations/{violation(reporter)['id']}"
        if resource == "violation"
        else f"/v1/parties/{party(reporter)}"
    )
    etag = reporter.get(path).headers["ETag"]
    auth = {"Authorization": f"Bearer {reporter.key}", "If-Match": etag}
    field = "title" if resource == "violation" else "name"

    def patch(i):
        return app.test_client().patch(path, json={field: f"edit {i}"}, headers=auth).status_code

    assert sorted(_parallel(2, patch)) == [200, 412]


def test_rate_limit_answers_429_then_lets_through_after_the_wait(database_url, make_caller):
    limited = create_app(
        {"DATABASE_URL": database_url, "SECRET_KEY": "test-secret", "RATE_LIMIT": "3/second"}
    )
    caller = make_caller("reader")
    client = limited.test_client()
    headers = {"Authorization": f"Bearer {caller.key}"}
    # Enough requests to overflow one window whatever moment within it the test starts.
    statuses = [client.get("/v1/parties", headers=headers) for _ in range(8)]
    refused = [r for r in statuses if r.status_code == 429]
    assert refused, [r.status_code for r in statuses]
    assert refused[0].mimetype == "application/problem+json"
    wait = int(refused[-1].headers["Retry-After"])
    assert 1 <= wait <= 2
    time.sleep(wait + 0.1)
    assert client.get("/v1/parties", headers=headers).status_code == 200
    # Operations endpoints are never limited.
    assert all(client.get("/healthz").status_code == 200 for _ in range(10))


def test_failed_authentications_are_limited_per_address(database_url, make_caller):
    limited = create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "RATE_LIMIT": "1000/second",
            "AUTH_FAILURE_LIMIT": "3/minute",
        }
    )
    client = limited.test_client()
    bad = {"Authorization": "Bearer cl_not-a-key"}
    assert [client.get("/v1/parties", headers=bad).status_code for _ in range(3)] == [401] * 3
    resp = client.get("/v1/parties", headers=bad)
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1


def test_audit_chain_verifies_and_names_a_tampered_entry(app, reporter, verifier, is_postgres):
    party(reporter)
    ok = verifier.get("/v1/audit/verify").get_json()
    assert ok["ok"] is True and ok["entries"] + ok["from_seq"] > 0
    engine = app.extensions["ledger.db"][0]
    with engine.connect() as conn:
        seq, action = conn.execute(
            text("SELECT seq, action FROM audit_log ORDER BY seq DESC LIMIT 1")
        ).one()
    _tamper(engine, is_postgres, seq, "forged")
    try:
        broken = verifier.get("/v1/audit/verify").get_json()
        assert broken["ok"] is False
        assert broken["first_bad_seq"] == seq
    finally:
        _tamper(engine, is_postgres, seq, action)
    assert verifier.get("/v1/audit/verify").get_json()["ok"] is True


def test_verify_rehashes_only_what_came_after_its_checkpoint(reporter, verifier, admin):
    verifier.get("/v1/audit/verify")
    party(reporter)
    party(reporter)
    again = verifier.get("/v1/audit/verify").get_json()
    assert again["ok"] and again["entries"] == 2 and again["from_seq"] > 0
    assert verifier.get("/v1/audit/verify").get_json()["entries"] == 0
    full = admin.get("/v1/audit/verify?full=1").get_json()
    assert full["ok"] and full["from_seq"] == 0
    assert full["entries"] == again["from_seq"] + again["entries"]


def test_verify_in_full_finds_tampering_before_the_checkpoint(
    app, reporter, verifier, admin, is_postgres
):
    party(reporter)
    engine = app.extensions["ledger.db"][0]
    with engine.connect() as conn:
        seq, action = conn.execute(
            text("SELECT seq, action FROM audit_log ORDER BY seq DESC LIMIT 1")
        ).one()
    party(reporter)
    assert verifier.get("/v1/audit/verify").get_json()["ok"]  # checkpoint past `seq`
    _tamper(engine, is_postgres, seq, "forged")
    try:
        full = admin.get("/v1/audit/verify?full=1").get_json()
        assert full["ok"] is False and full["first_bad_seq"] == seq
    finally:
        _tamper(engine, is_postgres, seq, action)


def test_one_verification_at_a_time(verifier):
    from service.resources.audit import routes

    with routes._RUNNING:
        resp = verifier.get("/v1/audit/verify")
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) >= 1


UPDATE = "UPDATE audit_log SET action = :action WHERE seq = :seq"


def _tamper(engine, is_postgres, seq, action):
    """Change a row behind the service's back, as an intruder with database access would."""
    with engine.begin() as conn:
        if is_postgres:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            conn.execute(text(UPDATE), {"action": action, "seq": seq})
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text(UPDATE), {"action": action, "seq": seq})
            conn.execute(
                text(
                    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
                    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
                )
            )


def test_unreachable_database_is_503_not_500(tmp_path):
    down = create_app(
        {
            "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:9/none",
            "SECRET_KEY": "test-secret",
            "RATE_LIMIT": "0",
        }
    )
    client = down.test_client()
    resp = client.get("/v1/parties", headers={"Authorization": "Bearer cl_whatever"})
    assert resp.status_code == 503
    assert resp.mimetype == "application/problem+json"
    assert int(resp.headers["Retry-After"]) >= 1
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


SERVER_OWNED = [
    ("/v1/sources", {"kind": "news_article", "title": "x", "id": "mine"}, "id"),
    (
        "/v1/sources",
        {"kind": "news_article", "title": "x", "created_at": "2020-01-01"},
        "created_at",
    ),
]


@pytest.mark.parametrize("path,body,field", SERVER_OWNED)
def test_server_owned_fields_refused_by_name(reporter, path, body, field):
    resp = reporter.post(path, json=body)
    assert resp.status_code == 422
    assert error_fields(resp)[field] == "is set by the server and cannot be sent"


def test_server_owned_fields_refused_on_claims(reporter):
    v = violation(reporter)
    resp = reporter.post(
        f"/v1/violations/{v['id']}/claims",
        json={
            "claimant": party(reporter),
            "stance": "alleges",
            "statement": "x",
            "withdrawn": True,
            "version": 3,
        },
    )
    fields = error_fields(resp)
    assert "withdrawn" in fields and "version" in fields


def test_if_match_star_does_not_switch_protection_off(reporter):
    v = violation(reporter)
    resp = reporter.patch(f"/v1/violations/{v['id']}", json={"title": "x"}, etag="*")
    assert resp.status_code == 428
    assert reporter.get(f"/v1/violations/{v['id']}").get_json()["title"] == v["title"]


def test_chunked_body_of_another_type_is_415(client, reporter):
    import io

    resp = client.post(
        "/v1/parties",
        input_stream=io.BytesIO(b"id=x"),
        headers={
            "Authorization": f"Bearer {reporter.key}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Transfer-Encoding": "chunked",
        },
    )
    assert resp.status_code == 415


def test_a_statement_bug_on_sqlite_is_500_not_503(make_app, tmp_path, reader):
    from sqlalchemy import text as sql

    broken = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")
    with broken.app_context():
        broken.extensions["ledger.db"][0].connect().execute(sql("SELECT 1")).close()
    resp = broken.test_client().get("/v1/parties", headers={"Authorization": "Bearer cl_x"})
    assert resp.status_code == 500
    assert resp.mimetype == "application/problem+json"


def test_an_entry_hashes_the_same_whether_its_changes_text_was_made_once_or_not():
    """Writers hash entries around the JSON text of their changes made once (audit.Changes);
    verify hashes the value read back. Both must give the same hash for any changes."""
    from datetime import UTC, datetime

    from service.core import audit

    changes = {
        "fields": {
            "title": 'Shelling of "Halfaya" \\ Ḥalfāyā',
            "occurred_at": datetime(2018, 11, 9, 22, 0, tzinfo=UTC),
            "lat": 35.26,
            "killed": 22,
            "tags": ("a", "b"),
            "nested": {"z": None, "a": [1.5, True, {"ب": "ع"}]},
        },
        "b": [],
        "a": {},
    }
    row = audit.new_row(None, "create", "violation", "v-1", changes, "v-1")
    # A whole second: isoformat() would then leave the microseconds out, the hash keeps them.
    row.update(seq=7, prev_hash="0" * 64, at=datetime(2018, 11, 10, tzinfo=UTC))
    assert isinstance(row["changes"], audit.Changes)
    plain = {**row, "changes": json.loads(json.dumps(dict(row["changes"])))}
    assert audit.hash_of(row) == audit.hash_of(plain)
    # What is stored is the value the hash covers.
    assert json.loads(row["changes"].text) == json.loads(
        json.dumps(changes, default=lambda value: value.isoformat())
    )


@pytest.mark.parametrize("where", ["_pipeline", "_copy"])
def test_a_connection_lost_mid_write_is_503_and_the_next_request_works(
    app, reporter, engine, is_postgres, monkeypatch, where
):
    """The database connection dies while a create's rows are being sent (a restart, a failover):
    the answer is 503 with Retry-After, not 500, nothing of it stays, and the next request gets
    a fresh connection."""
    if not is_postgres:
        pytest.skip("the pipelined and COPY writers are PostgreSQL's; SQLite has no connection")
    from sqlalchemy import text

    from service.core import rows

    real = getattr(rows, where)
    killed = []

    def cut_then_write(connection, *args):
        if not killed:
            pid = connection.connection.driver_connection.info.backend_pid
            with engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            killed.append(pid)
        return real(connection, *args)

    # Enough claims that the claims table goes by COPY as well.
    monitor = party(reporter, kind="monitor")
    monkeypatch.setattr(rows, where, cut_then_write)
    marker = unique("lost")
    claims = [
        {"claimant": monitor, "stance": "alleges", "statement": f"Shells fell, report {i}."}
        for i in range(rows.COPY_FROM)
    ]
    resp = reporter.post("/v1/violations", json=violation_body(title=marker, claims=claims))
    assert killed, f"{where} was not reached"
    assert resp.status_code == 503, resp.get_json()
    assert resp.mimetype == "application/problem+json"
    assert int(resp.headers["Retry-After"]) >= 1
    assert _count_titled(app, marker) == 0
    monkeypatch.setattr(rows, where, real)
    again = reporter.post("/v1/violations", json=violation_body(title=marker))
    assert again.status_code == 201, again.get_json()
    assert _count_titled(app, marker) == 1
