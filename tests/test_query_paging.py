"""Keyset paging of GET /v1/violations, lean pages without N+1 queries, conditional requests."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import event, func, select

from service import db
from service.auth import Principal
from service.core import violations as violations_core
from service.models import Violation
from tests.conftest import error_fields
from tests.scenario import claim, party, violation


def _page(caller, params):
    resp = caller.get("/v1/violations", query_string=params)
    assert resp.status_code == 200, resp.get_json()
    return resp


def test_paging_while_inserting_sees_every_row_exactly_once(reporter):
    perpetrator = party(reporter)
    before = [violation(reporter, attributed_party=perpetrator)["id"] for _ in range(7)]
    params = {"attributed_party": perpetrator, "limit": 2}
    seen: list[str] = []
    inserted: list[str] = []
    pages = 0
    while True:
        resp = _page(reporter, params)
        body = resp.get_json()
        seen.extend(item["id"] for item in body["items"])
        pages += 1
        if pages == 1:
            # New rows arrive while the client pages ...
            inserted += [violation(reporter, attributed_party=perpetrator)["id"] for _ in range(3)]
        if pages == 2:
            # ... and rows it has seen, and rows it has not, are edited.
            for vid in (seen[0], before[-1]):
                edit = reporter.patch_fresh(f"/v1/violations/{vid}", {"title": "Edited"})
                assert edit.status_code == 200
            inserted.append(violation(reporter, attributed_party=perpetrator)["id"])
        if not body["next_cursor"]:
            assert "Link" not in resp.headers
            break
        # The Link header carries the same cursor and keeps the filters.
        link = resp.headers["Link"]
        assert link.endswith('>; rel="next"') and f"attributed_party={perpetrator}" in link
        assert "cursor=" + body["next_cursor"] in link
        params["cursor"] = body["next_cursor"]
    assert len(seen) == len(set(seen)), "a row was repeated"
    assert seen == before + inserted  # every row once, in the order they were recorded
    assert all(len(p) <= 2 for p in [seen[i : i + 2] for i in range(0, len(seen), 2)])


def test_items_are_lean(reporter):
    perpetrator, who = party(reporter), party(reporter)
    v = violation(reporter, attributed_party=perpetrator)
    claim(reporter, v["id"], claimant=who)
    claim(reporter, v["id"], claimant=who, stance="corroborates")
    (item,) = _page(reporter, {"attributed_party": perpetrator}).get_json()["items"]
    assert item["claim_count"] == 2
    assert "claims" not in item and "status_history" not in item


def test_cursor_is_tamper_checked(reporter):
    perpetrator = party(reporter)
    for _ in range(3):
        violation(reporter, attributed_party=perpetrator)
    cursor = _page(reporter, {"attributed_party": perpetrator, "limit": 1}).get_json()[
        "next_cursor"
    ]
    forged = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    resp = reporter.get("/v1/violations", query_string={"cursor": forged})
    assert resp.status_code == 422
    assert "cursor" in error_fields(resp)
    parties_cursor = reporter.get("/v1/parties", query_string={"limit": 1}).get_json()[
        "next_cursor"
    ]
    resp = reporter.get("/v1/violations", query_string={"cursor": parties_cursor})
    assert resp.status_code == 422
    assert "cursor" in error_fields(resp)


def test_limit_defaults_to_50_and_is_capped_at_500(app, reporter):
    with app.app_context(), db.session_scope() as session:
        have = session.execute(select(func.count()).select_from(Violation)).scalar()
        actor = Principal(org=reporter.org, role="reporter", key_id=None)
        for _ in range(max(0, 51 - have)):
            violations_core.create(
                session,
                actor,
                {"title": "Filler", "category": "other", "occurred_at": datetime.now(UTC)},
            )
    body = _page(reporter, {}).get_json()
    assert len(body["items"]) == 50 and body["next_cursor"]
    assert len(_page(reporter, {"limit": 500}).get_json()["items"]) <= 500
    for bad in ("0", "501", "many"):
        resp = reporter.get("/v1/violations", query_string={"limit": bad})
        assert resp.status_code == 422 and "query.limit" in error_fields(resp)


@contextmanager
def counted_statements():
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = db.get_engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_page_costs_the_same_queries_whatever_its_size(reporter):
    perpetrator, affected, who = party(reporter), party(reporter), party(reporter)
    for _ in range(12):
        v = violation(reporter, attributed_party=perpetrator, affected_parties=[affected])
        claim(reporter, v["id"], claimant=who)
    counts = []
    for limit in (2, 12):
        with counted_statements() as statements:
            items = _page(reporter, {"attributed_party": perpetrator, "limit": limit}).get_json()[
                "items"
            ]
        assert len(items) == limit
        assert all(item["affected_parties"] == [affected] for item in items)
        counts.append(len(statements))
    # The page with the affected parties of all its rows, one statement (the key comes from
    # the key cache; SQLite's BEGIN is counted too).
    assert counts[0] == counts[1] <= 2, counts


def _etag_roundtrip(caller, path, params=None):
    first = caller.get(path, query_string=params or {})
    assert first.status_code == 200, first.get_json()
    etag = first.headers["ETag"]
    assert not etag.startswith("W/"), "strong ETag expected"
    again = caller.get(path, query_string=params or {}, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    return etag


def test_unchanged_resources_answer_304(reporter):
    perpetrator = party(reporter)
    v = violation(reporter, attributed_party=perpetrator)
    listing = {"attributed_party": perpetrator}
    list_etag = _etag_roundtrip(reporter, "/v1/violations", listing)
    one_etag = _etag_roundtrip(reporter, f"/v1/violations/{v['id']}")
    _etag_roundtrip(reporter, "/v1/stats", {"group_by": "status", **listing})
    _etag_roundtrip(reporter, "/v1/changes", {"after": 1, "limit": 5})

    # A change is a new representation: 200 with another ETag.
    resp = reporter.patch_fresh(f"/v1/violations/{v['id']}", {"title": "Retitled"})
    assert resp.status_code == 200
    for path, params, old in (
        ("/v1/violations", listing, list_etag),
        (f"/v1/violations/{v['id']}", {}, one_etag),
    ):
        resp = reporter.get(path, query_string=params, headers={"If-None-Match": old})
        assert resp.status_code == 200
        assert resp.headers["ETag"] != old
