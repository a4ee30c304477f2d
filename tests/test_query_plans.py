"""PostgreSQL plans: the filters that clients use at a million rows are answered from indexes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from service import db
from service.core import query
from service.models import AuditEntry

T = datetime(2018, 1, 1, tzinfo=UTC)


# Ten thousand violations, fifty parties, a claim and an affected party each: enough for the
# planner to weigh indexes as it would at scale. Inserted and analysed inside a transaction that
# is rolled back (ANALYZE is transactional too), so the shared test database keeps nothing.
SCALE_SQL = [
    "INSERT INTO organisations (id, name, created_at) VALUES ('plan-org', 'Plan', now())",
    "INSERT INTO parties (id, name, kind, names, aliases, affiliations, search_text, "
    "created_by_org, created_at, updated_at, version) SELECT 'plan-party-' || g, 'P' || g, "
    "'armed_group', '{}', '[]', '[]', '', 'plan-org', now(), now(), 1 "
    "FROM generate_series(1, 50) g",
    # Occurrence, update time and place are shuffled against the insertion order (the keyset),
    # as in real data; one violation in 500 is refuted. The times lie outside those of the
    # other tests' rows (which share the database), so that a selective filter stays selective:
    # each violation spans from some hour of 1990 to the same hour of 2090.
    "INSERT INTO violations (id, title, category, occurred_at, occurred_until, date_precision, "
    "provisions, tags, status, claim_count, reported_by, created_at, updated_at, version, "
    "attributed_party_id, lat, lon, country, admin1) SELECT md5('plan' || g)::uuid::text, "
    "'Plan ' || g, 'shelling', timestamptz '1990-01-01' + mod(g * 7919, 10000) * interval '1 h', "
    "timestamptz '2090-01-01' + mod(g * 7919, 10000) * interval '1 hour', 'day', '[]', '[]', "
    "CASE WHEN mod(g, 500) = 0 THEN 'refuted' ELSE 'reported' END, 1, 'plan-org', "
    "now() + g * interval '1 millisecond', "
    "timestamptz '2090-01-01' + mod(g * 13, 10000) * interval '1 minute', 1, "
    "'plan-party-' || (1 + mod(g, 50)), 35 + mod(g * 37, 1000) / 1000.0, "
    "36 + mod(g * 53, 1000) / 1000.0, 'SY', 'Hama' FROM generate_series(1, 10000) g",
    "INSERT INTO claims (id, seq, violation_id, claimant_id, stance, statement, translations, "
    "asserts, created_by_org, created_at, updated_at, version) SELECT "
    "md5('claim' || g)::uuid::text, 1, md5('plan' || g)::uuid::text, "
    "'plan-party-' || (1 + mod(g * 7, 50)), 'alleges', 'It happened.', '[]', '{}', 'plan-org', "
    "now(), now(), 1 FROM generate_series(1, 10000) g",
    "INSERT INTO violation_affected_parties (violation_id, party_id, position) SELECT "
    "md5('plan' || g)::uuid::text, 'plan-party-' || (1 + mod(g * 3, 50)), 0 "
    "FROM generate_series(1, 10000) g",
    "INSERT INTO violation_search (violation_id, document) SELECT md5('plan' || g)::uuid::text, "
    "'plan word' || g FROM generate_series(1, 10000) g",
    "ANALYZE violations",
    "ANALYZE claims",
    "ANALYZE violation_affected_parties",
    "ANALYZE violation_search",
]


@pytest.fixture(scope="module")
def explain(is_postgres, app):
    if not is_postgres:
        pytest.skip(
            "PostgreSQL only: the plans checked are PostgreSQL's (set TEST_DATABASE_URL); "
            "SQLite's planner has no enable_seqscan to reveal its choice on a small table"
        )
    with db.get_engine().connect() as conn:
        transaction = conn.begin()
        for sql in SCALE_SQL:
            conn.exec_driver_sql(sql)
        # Low-selectivity filters (status, a bbox) would rightly read the whole table at this
        # size; this shows which index the planner takes when it does use one.
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")

        def plan(stmt) -> str:
            compiled = stmt.compile(dialect=postgresql.dialect())
            rows = conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).all()
            return "\n".join(r[0] for r in rows)

        try:
            yield plan
        finally:
            transaction.rollback()


def listing(filters, after=None):
    return query.list_statement("postgresql", filters, after, 51)


HOUR, MINUTE = timedelta(hours=1), timedelta(minutes=1)
PAST, FUTURE = datetime(1990, 1, 1, tzinfo=UTC), datetime(2090, 1, 1, tzinfo=UTC)


def test_party_and_time_filter_reads_the_index_in_keyset_order(explain):
    """A dashboard's "party X since ...": the composite index gives the rows in keyset order,
    so a page stops after 51 rows instead of sorting every match."""
    filters = {"attributed_party": "plan-party-7", "occurred_from": T}
    first = explain(listing(filters))
    assert "Index Scan using ix_violations_attributed_party_created" in first, first
    assert "Sort" not in first, first
    # A later page starts inside the index, not by skipping rows.
    later = explain(listing(filters, (T, "00000000-0000-4000-8000-000000000000")))
    assert "Index Scan using ix_violations_attributed_party_created" in later, later
    assert "ROW(created_at, (id)::text) >" in later.split("Filter")[0], later


@pytest.mark.parametrize(
    ("filters", "indexes"),
    [
        ({"q": "plan word12*"}, {"ix_violation_search_document_tsv"}),
        ({"claimant": "plan-party-7"}, {"ix_claims_claimant_violation"}),
        ({"affected_party": "plan-party-7"}, {"ix_violation_affected_parties_party_id"}),
        ({"occurred_from": FUTURE + 9990 * HOUR}, {"ix_violations_occurred_end"}),
        ({"occurred_to": PAST + 10 * HOUR}, {"ix_violations_occurred_at"}),
        ({"bbox": (36.0, 35.0, 36.01, 35.01)}, {"ix_violations_lat_lon"}),
        ({"status": "refuted"}, {"ix_violations_status"}),
        ({"updated_since": FUTURE + 9990 * MINUTE}, {"ix_violations_updated_at"}),
    ],
    ids=lambda x: ",".join(x) if isinstance(x, dict) else "",
)
def test_each_selective_filter_has_an_index(explain, filters, indexes):
    plan = explain(listing(filters))
    assert any(index in plan for index in indexes), plan


def test_later_pages_start_inside_the_keyset_index(explain):
    plan = explain(listing({}, (T, "0")))
    assert "ix_violations_created_at_id" in plan and "Sort" not in plan, plan


def test_the_change_feed_reads_the_log_by_its_key(explain):
    stmt = select(AuditEntry.seq).where(AuditEntry.seq > 100).order_by(AuditEntry.seq).limit(51)
    plan = explain(stmt)
    assert "Index Cond: (seq > 100)" in plan and "pk_audit_log" in plan, plan
