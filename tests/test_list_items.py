"""GET /v1/violations answers list items built from Core rows: the same bytes as the schema dump
of summary_view, its ETag from those bytes, one statement a page, and its fast paths safe."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, insert, select, update

from service import auth, db
from service.core import query
from service.core.query import KEYSET
from service.models import AffectedParty, ApiKey, Violation
from service.resources.violations.present import summary_view
from service.resources.violations.schemas import ViolationPageSchema
from tests.conftest import problem_of
from tests.scenario import agreement, party, violation

# Values that a generic encoder and a hand-built item could treat differently (controls other
# than tab and newline are refused on the way in; those two only in long text).
ODD_TEXT = 'Quote " back\\slash, tab\t, newline\n, العربية, 🙂, \u2028, soft\u00adhyphen'
ODD_LINE = ODD_TEXT.replace("\t", " ").replace("\n", " ")


def _reference(app, caller, params: dict) -> tuple[bytes, dict]:
    """What the endpoint answered before: ORM objects, summary_view, ViolationPageSchema."""
    resp = caller.get("/v1/violations", query_string=params)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    ids = [item["id"] for item in body["items"]]
    with app.app_context(), db.session_scope(write=False) as session:
        rows = session.execute(select(Violation).where(Violation.id.in_(ids)).order_by(*KEYSET))
        views = [summary_view(v) for v in rows.scalars()]
        dumped = ViolationPageSchema().dump({"items": views, "next_cursor": body["next_cursor"]})
    with app.test_request_context():
        expected = app.json.response(dumped).get_data()
    return expected, {"resp": resp, "body": body}


def test_items_are_byte_for_byte_the_schema_dump(app, reporter, is_postgres):
    since = datetime.now(UTC).isoformat()
    perpetrator, first, second, third = (party(reporter) for _ in range(4))
    sochi = agreement(reporter)["id"]
    bodies = [
        {},  # the scenario's default: a full location, an interval
        {"location": None, "occurred_until": None, "date_precision": "exact"},
        {"location": {"country": "SY"}},  # a partial location: the other keys are null
        {"location": {"name": "Latakia", "lat": 35.0, "lon": -36.0, "precision": "near"}},
        {"casualties": {"killed": {"best": 22}}},
        {"casualties": {"killed": {"low": 20, "best": 22, "high": 25}, "injured": {"high": 3}}},
        {"casualties": {"civilian": {"injured": {"low": 0}}}},
        {"casualties": {"injured": {"best": 0}, "civilian": {"killed": {"best": 0}}}},
        {"title": ODD_LINE, "description": ODD_TEXT, "tags": ["β", "x y", ODD_LINE[:60]]},
        # Microseconds; numbers whose texts differ between writers unless taken care of.
        {"occurred_at": "2018-11-09T10:11:12.000340Z", "occurred_until": None},
        {"location": {"lat": -0.0, "lon": 1e-05}},
        {"location": {"lat": 0.0001, "lon": -179.99999999999997, "name": "\u00ad"}},
        {
            "affected_parties": [third, first, second],
            "agreement": sochi,
            "provisions": ["dmz-15km", "heavy-weapons"],
        },
        {"agreement": sochi, "location": {"lat": 35.5, "lon": 36.5}},  # in the zone: true
        {"agreement": sochi, "location": {"lat": 30.0, "lon": 30.0}},  # outside it: false
        {"attributed_party": None, "description": None},
    ]
    made = [violation(reporter, **{"attributed_party": perpetrator, **extra}) for extra in bodies]
    # Affected parties whose positions run against their insertion order.
    odd = violation(reporter, attributed_party=perpetrator)["id"]
    with app.app_context(), db.session_scope() as session:
        session.execute(
            insert(AffectedParty),
            [
                {"violation_id": odd, "party_id": second, "position": 2},
                {"violation_id": odd, "party_id": first, "position": 0},
                {"violation_id": odd, "party_id": third, "position": 1},
            ],
        )
    # Values no API request stores, which PostgreSQL leaves to Python to write (the page then
    # comes from Python whole): a NUL in a tag, a huge coordinate, a list that is not of text.
    with app.app_context(), db.session_scope() as session:
        for vid, values in (
            (made[1]["id"], {"tags": ["nul\x00here", "x"]}),
            (made[2]["id"], {"lon": 1e15 + 0.5, "provisions": [1, True, None, {"a": 1}]}),
        ):
            session.execute(update(Violation).where(Violation.id == vid).values(**values))
    if is_postgres:  # and PostgreSQL did leave those two rows to Python
        with app.app_context(), db.session_scope(write=False) as session:
            written = query.list_page_json(
                session, {"updated_since": datetime.fromisoformat(since)}, None, 500
            )
        assert {r.id for r in written if r.item is None} == {made[1]["id"], made[2]["id"]}
    for limit in (500, 5):
        expected, got = _reference(app, reporter, {"updated_since": since, "limit": limit})
        assert got["resp"].get_data() == expected
        assert got["resp"].mimetype == "application/json"
    whole, got = _reference(app, reporter, {"updated_since": since})
    items = {item["id"]: item for item in got["body"]["items"]}
    assert list(items) == [v["id"] for v in made] + [odd]
    assert items[odd]["affected_parties"] == [first, third, second]
    assert items[made[-4]["id"]]["affected_parties"] == [third, first, second]
    lat = items[made[3]["id"]]["location"]["lat"]
    assert lat == 35.0 and isinstance(lat, float)
    assert b'"lat":35.0,"lon":-36.0' in whole and b'"lon":1e-05' in whole
    first_item = next(iter(items.values()))
    assert list(first_item) == list(ViolationPageSchema().fields["items"].inner.schema.fields)


def test_etag_is_the_hash_of_the_body_and_answers_304(reporter):
    perpetrator = party(reporter)
    for _ in range(3):
        violation(reporter, attributed_party=perpetrator)
    params = {"attributed_party": perpetrator, "limit": 2}
    resp = reporter.get("/v1/violations", query_string=params)
    etag = resp.headers["ETag"].strip('"')
    assert etag == hashlib.sha1(resp.get_data()).hexdigest()  # noqa: S324
    assert "Link" in resp.headers
    again = reporter.get("/v1/violations", query_string=params, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    head = reporter.client.head(
        "/v1/violations",
        query_string=params,
        headers={"Authorization": f"Bearer {reporter.key}", "If-None-Match": f'"{etag}"'},
    )
    assert head.status_code == 304
    # Another page is another representation.
    nxt = reporter.get(
        "/v1/violations",
        query_string={**params, "cursor": resp.get_json()["next_cursor"]},
        headers={"If-None-Match": etag},
    )
    assert nxt.status_code == 200 and nxt.headers["ETag"] != resp.headers["ETag"]


def test_a_page_with_a_known_key_is_one_statement(app, reporter):
    perpetrator, affected = party(reporter), party(reporter)
    for _ in range(3):
        violation(reporter, attributed_party=perpetrator, affected_parties=[affected])
    params = {"attributed_party": perpetrator}
    assert reporter.get("/v1/violations", query_string=params).status_code == 200
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.get_engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        resp = reporter.get("/v1/violations", query_string=params)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert resp.status_code == 200
    assert [i["affected_parties"] for i in resp.get_json()["items"]] == [[affected]] * 3
    # The key came from the cache; the page and its affected parties are one statement (and
    # on SQLite, our BEGIN).
    assert [s for s in statements if s != "BEGIN"] == statements[-1:], statements


def test_the_read_only_connection_goes_back_to_the_pool_transactional(app, reporter, is_postgres):
    """The list runs without BEGIN on PostgreSQL; the connection it used must go back to the
    pool transactional again, or a later write on it could be left half done."""
    if not is_postgres:
        pytest.skip("autocommit reads are PostgreSQL only")
    from psycopg.pq import TransactionStatus

    perpetrator = party(reporter)
    violation(reporter, attributed_party=perpetrator)
    seen = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        dbapi = conn.connection.dbapi_connection
        seen.append((statement.split()[0], dbapi, dbapi.autocommit))

    with app.app_context():
        engine = db.get_engine()
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        resp = reporter.get("/v1/violations", query_string={"attributed_party": perpetrator})
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    assert resp.status_code == 200
    [(verb, dbapi, autocommit)] = seen  # the key came from the cache
    assert (verb, autocommit) == ("SELECT", True)
    assert dbapi.autocommit is False
    assert dbapi.info.transaction_status == TransactionStatus.IDLE
    # And a write through the same pool is still all or nothing.
    with app.app_context(), pytest.raises(ZeroDivisionError), db.session_scope() as session:
        session.connection().exec_driver_sql(
            "UPDATE violations SET title = 'half' WHERE attributed_party_id = %(p)s",
            {"p": perpetrator},
        )
        raise ZeroDivisionError
    titles = {
        i["title"]
        for i in reporter.get(f"/v1/violations?attributed_party={perpetrator}").get_json()["items"]
    }
    assert "half" not in titles


def _terminate(database_url: str, pids: list[int]) -> None:
    """End these backends from a connection of our own, outside the app's pool."""
    import psycopg

    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _pooled_pids(engine) -> list[int]:
    return [rec.dbapi_connection.info.backend_pid for rec in list(engine.pool._pool.queue)]


def test_a_dropped_pooled_connection_is_replaced_unseen(
    make_app, make_caller, database_url, is_postgres
):
    """The pool still pings each connection it hands out (in autocommit, so the list can still
    run without a transaction): one the server dropped is replaced before a request uses it."""
    if not is_postgres:
        pytest.skip("PostgreSQL: ends a backend")
    other = make_app()
    client = other.test_client()
    caller = make_caller("reader")
    headers = {"Authorization": f"Bearer {caller.key}"}
    with other.app_context():
        engine = db.get_engine()
        engine.dispose()
    assert client.get("/v1/violations?limit=1", headers=headers).status_code == 200
    pids = _pooled_pids(engine)
    assert len(pids) == 1
    _terminate(database_url, pids)
    resp = client.get("/v1/violations?limit=1", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    assert _pooled_pids(engine) != pids


def test_a_revoked_key_is_refused_within_the_cache_bound(app, reader, monkeypatch):
    """A key revoked by another process (here: behind the ORM's back) keeps working in this
    one only until its cache entry expires, AUTH_CACHE_SECONDS (5 s) after it was looked up."""
    now = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: now[0])
    assert reader.get("/v1/violations", query_string={"limit": 1}).status_code == 200
    with app.app_context(), db.session_scope() as session:
        session.execute(
            update(ApiKey)
            .where(ApiKey.key_hash == auth.hash_key(reader.key))
            .values(revoked_at=datetime.now(UTC))
        )
    assert app.config["AUTH_CACHE_SECONDS"] == 5
    now[0] += 4.9
    assert reader.get("/v1/violations", query_string={"limit": 1}).status_code == 200
    now[0] += 0.2
    resp = reader.get("/v1/violations", query_string={"limit": 1})
    assert resp.status_code == 401
    problem_of(resp)


def test_the_key_cache_holds_no_keys_and_no_failures(app, reader, client):
    assert reader.get("/v1/violations", query_string={"limit": 1}).status_code == 200
    bad = "cl_" + "y" * 43
    for _ in range(2):
        assert (
            client.get("/v1/violations", headers={"Authorization": f"Bearer {bad}"}).status_code
            == 401
        )
    with app.app_context():
        cache = auth.key_cache()
    held = repr(cache._entries)
    assert reader.key not in held
    assert auth.hash_key(bad) not in cache._entries
    assert auth.hash_key(reader.key) in cache._entries


def test_a_role_change_is_seen_at_once_by_this_process(app, make_caller):
    caller = make_caller("reporter")
    assert caller.get("/v1/violations", query_string={"limit": 1}).status_code == 200
    with app.app_context(), db.session_scope() as session:
        row = session.execute(
            select(ApiKey).where(ApiKey.key_hash == auth.hash_key(caller.key))
        ).scalar_one()
        row.role = "reader"
    resp = caller.post("/v1/parties", json={"id": "x-never", "name": "X", "kind": "other"})
    assert resp.status_code == 403
