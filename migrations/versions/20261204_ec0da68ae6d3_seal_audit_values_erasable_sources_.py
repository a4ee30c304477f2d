"""Seal confidential values in the audit log, make sources erasable, scope idempotency keys to
the API key that sent them.

The audit log kept the url of each edition of a source and the locator of each citation in
clear, and it is append-only: nothing could ever remove them. From here on the chained entries
hold a salted commitment instead (service.disclosure.seal) and the values live in
sealed_values, which an erasure can destroy without breaking the chain. This migration seals
what was logged before: it rewrites the entries that held such values, chains every entry again
from the first one it changed, and appends an entry ("reseal") naming the chain head it
replaced, so that the rewrite is itself on the record. A client that kept the old head can
check it against that entry.

Stored idempotent answers were kept in clear and scoped to an organisation, so that another key
of the organisation could replay them: the table is made anew, per API key (its rows are retry
answers kept for 24 hours, nothing else).

Revision ID: ec0da68ae6d3
Revises: a84975e796f7
Create Date: 2026-12-04 20:12:11.259996
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import service.models
from service import disclosure
from service.core import audit
from service.models import AuditEntry, AuditHead, SealedValue

revision: str = "ec0da68ae6d3"
down_revision: str | None = "a84975e796f7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000
SQLITE_GUARDS = {
    "audit_log_no_update": "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "audit_log_no_delete": "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
}


def _idempotency_table(owner: sa.Column) -> None:
    op.create_table(
        "idempotency_keys",
        owner,
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=False),
        *(
            [
                sa.Column("withheld_id", sa.String(length=64), nullable=True),
                sa.Column("disclosed", sa.Text(), nullable=True),
            ]
            if owner.name == "api_key_id"
            else []
        ),
        sa.Column("created_at", service.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", service.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", service.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(owner.name, "key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_expires_at"), ["expires_at"], unique=False
        )


def _drop_idempotency_table() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_expires_at"))
    op.drop_table("idempotency_keys")


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("verified_at", service.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "sealed_values",
        sa.Column("commitment", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("source_id", sa.String(length=36), nullable=True),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("commitment", name=op.f("pk_sealed_values")),
    )
    with op.batch_alter_table("sealed_values", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sealed_values_source_id"), ["source_id"], unique=False)

    _drop_idempotency_table()
    _idempotency_table(sa.Column("api_key_id", sa.String(length=36), nullable=False))

    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("erased_at", service.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("erased_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("erased_reason", sa.Text(), nullable=True))

    conn = op.get_bind()
    sealed_table = SealedValue.__table__

    def seal(entry: dict[str, Any]) -> dict[str, Any] | None:
        if entry["entity"] not in disclosure.SEALED_NAMES:
            return None
        changes, values = disclosure.seal(entry["entity"], entry["entity_id"], entry["changes"])
        if not values:
            return None
        conn.execute(sa.insert(sealed_table), values)
        return changes

    _rewrite_chain(conn, seal, "reseal")


def downgrade() -> None:
    conn = op.get_bind()
    sealed_table = SealedValue.__table__

    def unseal(entry: dict[str, Any]) -> dict[str, Any] | None:
        found: set[str] = set()
        disclosure.commitments_in(entry["changes"], found)
        if not found:
            return None
        values = {
            row.commitment: row.value
            for row in conn.execute(
                sa.select(sealed_table.c.commitment, sealed_table.c.value).where(
                    sealed_table.c.commitment.in_(sorted(found))
                )
            )
        }

        def put_back(value: Any) -> Any:
            if disclosure.is_sealed(value):
                text = values.get(value["sealed"])
                return "[erased]" if text is None else json.loads(text)
            if isinstance(value, dict):
                return {k: put_back(v) for k, v in value.items()}
            if isinstance(value, list):
                return [put_back(v) for v in value]
            return value

        return put_back(entry["changes"])

    _rewrite_chain(conn, unseal, "unseal")

    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("erased_reason")
        batch_op.drop_column("erased_by")
        batch_op.drop_column("erased_at")

    _drop_idempotency_table()
    _idempotency_table(sa.Column("org", sa.String(length=64), nullable=False))

    with op.batch_alter_table("sealed_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sealed_values_source_id"))
    op.drop_table("sealed_values")
    op.drop_table("audit_checkpoints")


def _rewrite_chain(
    conn: sa.Connection, transform: Callable[[dict[str, Any]], dict[str, Any] | None], action: str
) -> None:
    """Give each entry the changes `transform` answers (None: as they are), chain every entry
    again from the first one changed, and append an entry naming the head it replaced."""
    log = AuditEntry.__table__
    head_table = AuditHead.__table__
    postgres = conn.dialect.name == "postgresql"
    head = conn.execute(sa.select(head_table.c.seq, head_table.c.hash)).first()
    if head is None or head.seq == 0:
        return
    _guards(conn, postgres, on=False)
    changed_any = False
    prev = audit.GENESIS_HASH
    last = 0
    count = 0
    rewrite = (
        sa.update(log)
        .where(log.c.seq == sa.bindparam("b_seq"))
        .values(
            changes=sa.bindparam("b_changes", type_=log.c.changes.type),
            prev_hash=sa.bindparam("b_prev"),
            hash=sa.bindparam("b_hash"),
        )
    )
    while True:
        rows = conn.execute(
            sa.select(log).where(log.c.seq > last).order_by(log.c.seq).limit(BATCH)
        ).mappings()
        rows = [dict(r) for r in rows]
        if not rows:
            break
        updates = []
        for entry in rows:
            count += 1
            new_changes = transform(entry)
            if new_changes is not None:
                changed_any = True
                entry["changes"] = new_changes
            if new_changes is not None or entry["prev_hash"] != prev:
                entry["prev_hash"] = prev
                entry["hash"] = audit.hash_of(entry)
                updates.append(
                    {
                        "b_seq": entry["seq"],
                        "b_changes": entry["changes"],
                        "b_prev": entry["prev_hash"],
                        "b_hash": entry["hash"],
                    }
                )
            prev = entry["hash"]
            last = entry["seq"]
        if updates:
            conn.execute(rewrite, updates)
    _guards(conn, postgres, on=True)
    if not changed_any:
        return
    row = audit.new_row(
        None,
        action,
        "audit_log",
        "chain",
        {"replaced_head": {"seq": head.seq, "hash": head.hash}, "entries": count},
    )
    seq, new_hash = audit.chain(audit.Head(1, last, prev), [row])
    conn.execute(sa.insert(log), [{**row, "changes": dict(row["changes"])}])
    conn.execute(sa.update(head_table).values(seq=seq, hash=new_hash))


def _guards(conn: sa.Connection, postgres: bool, *, on: bool) -> None:
    """The append-only triggers of audit_log, off for the rewrite and on again after it."""
    if postgres:
        verb = "ENABLE" if on else "DISABLE"
        conn.exec_driver_sql(f"ALTER TABLE audit_log {verb} TRIGGER audit_log_append_only")
        return
    for name, ddl in SQLITE_GUARDS.items():
        conn.exec_driver_sql(ddl if on else f"DROP TRIGGER IF EXISTS {name}")
