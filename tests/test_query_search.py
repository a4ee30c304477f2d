"""`q`: full text over title, description, claim statements and translations, kept up to date."""

from __future__ import annotations

import uuid

from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import alembic_config
from tests.query_fixtures import word
from tests.scenario import claim, party, violation, violation_body


def hits(caller, q: str) -> set[str]:
    resp = caller.get("/v1/violations", query_string={"q": q, "limit": 500})
    assert resp.status_code == 200, resp.get_json()
    return {item["id"] for item in resp.get_json()["items"]}


def test_search_follows_every_edit(reporter):
    who = party(reporter, kind="monitor")
    w_title, w_desc, w_stmt, w_trans = word(), word(), word(), word()
    v = violation(
        reporter,
        title=f"Bombardment of Kafr Nabudah {w_title}",
        description=f"Houses hit ({w_desc}).",
        claims=[
            {
                "claimant": who,
                "stance": "alleges",
                "statement": f"Les obus sont tombés sur le marché {w_stmt}",
                "language": "fr",
                "translations": [
                    {"language": "en", "text": f"Shells fell on the market {w_trans}"}
                ],
            }
        ],
    )
    vid = {v["id"]}
    for w in (w_title, w_desc, w_stmt, w_trans):
        assert hits(reporter, w) == vid, w
    # Case and accents do not matter; every word must occur; `*` matches a prefix.
    assert hits(reporter, f"MARCHE {w_stmt.upper()}") == vid
    assert hits(reporter, f"{w_title} {w_trans}") == vid
    assert hits(reporter, f"{w_title} {word()}") == set()
    assert hits(reporter, w_stmt[:8] + "*") == vid
    assert hits(reporter, w_stmt[:8]) == set()

    # A claim added later, then edited.
    w_new, w_edited = word(), word()
    c = claim(reporter, v["id"], claimant=who, stance="corroborates", statement=f"Yes {w_new}")
    assert hits(reporter, w_new) == vid
    resp = reporter.patch_fresh(f"/v1/claims/{c['id']}", {"statement": f"Indeed {w_edited}"})
    assert resp.status_code == 200, resp.get_json()
    assert hits(reporter, w_new) == set()
    assert hits(reporter, w_edited) == vid

    # The violation itself edited.
    w_retitled = word()
    resp = reporter.patch_fresh(
        f"/v1/violations/{v['id']}", {"title": f"Shelling of Kafr Nabudah {w_retitled}"}
    )
    assert resp.status_code == 200, resp.get_json()
    assert hits(reporter, w_title) == set()
    assert hits(reporter, w_retitled) == vid
    assert hits(reporter, w_trans) == vid  # the claims' words stay


def test_transliterations_and_scripts(reporter):
    w = word()
    v = violation(reporter, title=f"Hay’at Taḥrīr al-Shām positions shelled {w}")
    assert hits(reporter, f"hayat tahrir al-sham {w}") == {v["id"]}
    who = party(reporter)
    w2 = word()
    claim(reporter, v["id"], claimant=who, statement=f"قصف مدفعي على المدينة {w2}", language="ar")
    assert hits(reporter, f"قصف {w2}") == {v["id"]}


def _scratch_url(database_url: str, tmp_path):
    """A new, empty database on the backend under test; and how to drop it."""
    if not database_url.startswith("postgresql"):
        return f"sqlite:///{tmp_path / 'backfill.db'}", lambda: None
    server = make_url(database_url)
    name = f"ledger_q_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return server.set(database=name).render_as_string(hide_password=False), drop


def test_migration_indexes_violations_recorded_before_it(database_url, tmp_path):
    rev = "adc6631920c4"  # the revision that adds full-text search
    url, drop = _scratch_url(database_url, tmp_path)
    try:
        cfg = alembic_config(url)
        command.upgrade(cfg, f"{rev}-1")
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO organisations (id, name, created_at) VALUES ('o', 'O', :t)"),
                {"t": "2018-11-09 00:00:00"},
            )
            conn.execute(
                text(
                    "INSERT INTO parties (id, name, kind, names, aliases, affiliations, "
                    "search_text, created_by_org, created_at, updated_at, version) VALUES "
                    "('p', 'P', 'monitor', '{}', '[]', '[]', '', 'o', :t, :t, 1)"
                ),
                {"t": "2018-11-09 00:00:00"},
            )
            conn.execute(
                text(
                    "INSERT INTO violations (id, title, description, category, occurred_at, "
                    "date_precision, provisions, tags, status, claim_count, reported_by, "
                    "created_at, updated_at, version) VALUES ('v', 'Old Shelling', 'Before "
                    "search existed', 'shelling', :t, 'day', '[]', '[]', 'reported', 1, 'o', "
                    ":t, :t, 1)"
                ),
                {"t": "2018-11-09 00:00:00"},
            )
            conn.execute(
                text(
                    "INSERT INTO claims (id, seq, violation_id, claimant_id, stance, statement, "
                    "translations, asserts, created_by_org, created_at, updated_at, version) "
                    "VALUES ('c', 1, 'v', 'p', 'alleges', 'Obus tombés', :tr, '{}', 'o', :t, "
                    ":t, 1)"
                ),
                {"t": "2018-11-09 00:00:00", "tr": '[{"language": "en", "text": "Shells fell"}]'},
            )
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            doc = conn.execute(text("SELECT document FROM violation_search")).scalar_one()
            assert doc == "old shelling before search existed obus tombes shells fell"
            if url.startswith("sqlite"):
                match = "SELECT count(*) FROM violation_fts WHERE violation_fts MATCH 'shells'"
            else:
                match = (
                    "SELECT count(*) FROM violation_search WHERE "
                    "to_tsvector('simple'::regconfig, document) @@ to_tsquery('simple', 'shells')"
                )
            assert conn.execute(text(match)).scalar() == 1
        command.downgrade(cfg, f"{rev}-1")
        engine.dispose()
    finally:
        drop()


def test_violations_recorded_in_a_batch_are_found(reporter):
    w1, w2 = word(), word()
    body = {"items": [violation_body(title=f"Batch one {w1}"), violation_body(title=f"Two {w2}")]}
    resp = reporter.post("/v1/violations/batch", json=body)
    assert resp.status_code == 200, resp.get_json()
    ids = [r["id"] for r in resp.get_json()["results"]]
    assert hits(reporter, w1) == {ids[0]}
    assert hits(reporter, w2) == {ids[1]}
