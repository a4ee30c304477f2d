"""Migrations build, match the models, and tear down; history tables refuse rewrites."""

from __future__ import annotations

import uuid

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from service.models import Base
from tests.conftest import alembic_config

MODEL_TABLES = set(Base.metadata.tables)


def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def scalar(url: str, sql: str):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


@pytest.fixture
def scratch_url(database_url, is_postgres, tmp_path):
    """An empty database on the backend under test."""
    if not is_postgres:
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    server = make_url(database_url)
    name = f"ledger_mig_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def scratch_postgres(scratch_url, is_postgres):
    """A new, empty PostgreSQL database on the test server, dropped afterwards."""
    if not is_postgres:
        pytest.skip("PostgreSQL only: set TEST_DATABASE_URL=postgresql+psycopg://... to run it")
    return scratch_url


def test_postgres_upgrade_check_downgrade_upgrade(scratch_postgres):
    url = scratch_postgres
    cfg = alembic_config(url)
    assert table_names(url) == set()

    command.upgrade(cfg, "head")
    # Every model has its table (full-text indexes may add tables the models do not map).
    assert MODEL_TABLES | {"alembic_version"} <= table_names(url)
    command.check(cfg)  # raises when the models and the migrations disagree
    triggers = scalar(url, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%append_only'")
    assert triggers == 2

    command.downgrade(cfg, "base")
    assert table_names(url) <= {"alembic_version"}
    assert scalar(url, "SELECT count(*) FROM alembic_version") == 0
    assert scalar(url, "SELECT count(*) FROM pg_proc WHERE proname = 'ledger_append_only'") == 0

    command.upgrade(cfg, "head")
    # Every model has its table (full-text indexes may add tables the models do not map).
    assert MODEL_TABLES | {"alembic_version"} <= table_names(url)
    command.check(cfg)


def test_sqlite_upgrade_check_downgrade_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'migrations.db'}"
    cfg = alembic_config(url)

    command.upgrade(cfg, "head")
    # Every model has its table (full-text indexes may add tables the models do not map).
    assert MODEL_TABLES | {"alembic_version"} <= table_names(url)
    command.check(cfg)
    append_only = (
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN "
        "('audit_log_no_update', 'audit_log_no_delete', "
        "'status_changes_no_update', 'status_changes_no_delete')"
    )
    assert scalar(url, append_only) == 4  # UPDATE and DELETE, on two history tables
    triggers = "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"

    command.downgrade(cfg, "base")
    assert table_names(url) <= {"alembic_version"}
    assert scalar(url, triggers) == 0

    command.upgrade(cfg, "head")
    # Every model has its table (full-text indexes may add tables the models do not map).
    assert MODEL_TABLES | {"alembic_version"} <= table_names(url)
    command.check(cfg)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'tampered' WHERE seq = :seq",
        "DELETE FROM audit_log WHERE seq = :seq",
    ],
    ids=["update", "delete"],
)
def test_audit_log_refuses_update_and_delete(engine, admin, statement):
    # `admin` has just been created, so the log holds at least its key's entries.
    with engine.connect() as conn:
        seq = conn.execute(text("SELECT max(seq) FROM audit_log")).scalar()
    assert seq
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(text(statement), {"seq": seq})
        finally:
            transaction.rollback()
    with engine.connect() as conn:
        row = conn.execute(text("SELECT action FROM audit_log WHERE seq = :s"), {"s": seq}).one()
    assert row.action != "tampered"


def _old_entry(seq: int, prev: str, entity: str, entity_id: str, changes: dict) -> dict:
    from datetime import UTC, datetime

    from service.core import audit

    row = {
        "seq": seq,
        "at": datetime(2026, 11, 30, 12, 0, seq, tzinfo=UTC),
        "actor_org": "idlib-monitors",
        "actor_key": None,
        "action": "create",
        "entity": entity,
        "entity_id": entity_id,
        "violation_id": "v-1" if entity == "claim" else None,
        "changes": changes,
        "prev_hash": prev,
    }
    row["hash"] = audit.hash_of(row)
    return row


def test_the_migration_seals_what_was_logged_in_clear(scratch_url):
    """Entries written before sealing held locators and edition urls in clear: the migration
    seals them, chains the log again, and records the head it replaced."""
    from sqlalchemy.orm import Session

    from service.core import audit
    from service.models import AuditEntry, AuditHead

    url = scratch_url
    cfg = alembic_config(url)
    command.upgrade(cfg, "a84975e796f7")
    source = {
        "fields": {
            "kind": "witness_testimony",
            "author": "[confidential]",
            "editions": [{"language": "ar", "url": "https://ar.example.org/safe-house-room-4"}],
        }
    }
    claim = {"statement": "x", "sources": [{"source_id": "s-1", "locator": "+90 555 0100"}]}
    party = {"fields": {"name": "Someone"}}
    rows = []
    prev = audit.GENESIS_HASH
    for seq, (entity, eid, changes) in enumerate(
        [("party", "p-1", party), ("source", "s-1", source), ("claim", "c-1", claim)], start=1
    ):
        rows.append(_old_entry(seq, prev, entity, eid, changes))
        prev = rows[-1]["hash"]
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(AuditEntry.__table__.insert(), rows)
        conn.execute(AuditHead.__table__.update().values(seq=3, hash=prev))
    engine.dispose()

    command.upgrade(cfg, "head")
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            assert audit.verify(session)["ok"]
            entries = session.query(AuditEntry).order_by(AuditEntry.seq).all()
            logged = repr([e.changes for e in entries])
            assert "safe-house-room-4" not in logged and "+90 555 0100" not in logged
            assert entries[0].hash == rows[0]["hash"]  # before the first sealed one: unchanged
            last = entries[-1]
            assert (last.seq, last.action) == (4, "reseal")
            assert last.changes["replaced_head"] == {"seq": 3, "hash": prev}
            sealed = session.execute(text("SELECT value, source_id FROM sealed_values")).all()
            assert ('"+90 555 0100"', "s-1") in sealed
            assert ('"https://ar.example.org/safe-house-room-4"', "s-1") in sealed
    finally:
        engine.dispose()
    # And back: the values return to the entries, and the chain still verifies.
    command.downgrade(cfg, "a84975e796f7")
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            entries = session.query(AuditEntry).order_by(AuditEntry.seq).all()
            assert entries[2].changes == claim
            assert entries[-1].action == "unseal"
    finally:
        engine.dispose()
