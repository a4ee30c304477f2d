"""Add the query API's indexes and full-text search of violations.

violation_search holds each violation's folded search document. PostgreSQL searches it through a
GIN index on to_tsvector('simple', document); SQLite through the FTS5 table violation_fts, an
external-content index of violation_search kept in step by triggers. Autogenerate sees neither
the FTS5 table nor its triggers (migrations/env.py leaves them out of the comparison).

Careful in later migrations: a batch ("move and copy") alteration of violation_search on SQLite
drops the table and with it the triggers; recreate them (and rebuild violation_fts) after it.

Revision ID: adc6631920c4
Revises: 82d36c40f1f9
Create Date: 2026-11-25 23:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "adc6631920c4"
down_revision: str | None = "82d36c40f1f9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS_TRIGGERS = {
    "violation_search_ai": """
        CREATE TRIGGER violation_search_ai AFTER INSERT ON violation_search BEGIN
            INSERT INTO violation_fts(rowid, document) VALUES (new.id, new.document);
        END""",
    "violation_search_ad": """
        CREATE TRIGGER violation_search_ad AFTER DELETE ON violation_search BEGIN
            INSERT INTO violation_fts(violation_fts, rowid, document)
                VALUES ('delete', old.id, old.document);
        END""",
    "violation_search_au": """
        CREATE TRIGGER violation_search_au AFTER UPDATE ON violation_search BEGIN
            INSERT INTO violation_fts(violation_fts, rowid, document)
                VALUES ('delete', old.id, old.document);
            INSERT INTO violation_fts(rowid, document) VALUES (new.id, new.document);
        END""",
}


def _backfill(bind) -> None:
    """Search documents of the violations recorded before this revision, in batches."""
    from service.text import fold

    violations = sa.table(
        "violations", sa.column("id"), sa.column("title"), sa.column("description")
    )
    claims = sa.table(
        "claims",
        sa.column("violation_id"),
        sa.column("seq"),
        sa.column("statement"),
        sa.column("translations", sa.JSON),
    )
    search = sa.table("violation_search", sa.column("violation_id"), sa.column("document"))
    after = ""
    while True:
        batch = bind.execute(
            sa.select(violations.c.id, violations.c.title, violations.c.description)
            .where(violations.c.id > after)
            .order_by(violations.c.id)
            .limit(1000)
        ).all()
        if not batch:
            return
        ids = [row.id for row in batch]
        texts: dict[str, list[str]] = {vid: [] for vid in ids}
        for claim in bind.execute(
            sa.select(claims.c.violation_id, claims.c.statement, claims.c.translations)
            .where(claims.c.violation_id.in_(ids))
            .order_by(claims.c.violation_id, claims.c.seq)
        ):
            texts[claim.violation_id].append(claim.statement or "")
            for translation in claim.translations or []:
                texts[claim.violation_id].append((translation or {}).get("text") or "")
        rows = [
            {
                "violation_id": row.id,
                "document": fold(
                    " ".join([row.title or "", row.description or ""] + texts[row.id])
                ),
            }
            for row in batch
        ]
        bind.execute(search.insert(), rows)
        after = ids[-1]


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"

    op.create_table(
        "violation_search",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("violation_id", sa.String(length=36), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["violation_id"],
            ["violations.id"],
            name=op.f("fk_violation_search_violation_id_violations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_violation_search")),
        sa.UniqueConstraint("violation_id", name=op.f("uq_violation_search_violation_id")),
    )
    if sqlite:
        # remove_diacritics 2 also folds what fold() may leave; the documents are ASCII anyway.
        op.execute(
            "CREATE VIRTUAL TABLE violation_fts USING fts5(document, content='violation_search', "
            "content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
        )
        for ddl in FTS_TRIGGERS.values():
            op.execute(ddl)
    else:
        op.create_index(
            "ix_violation_search_document_tsv",
            "violation_search",
            [sa.text("to_tsvector('simple'::regconfig, document)")],
            unique=False,
            postgresql_using="gin",
        )
    _backfill(bind)

    with op.batch_alter_table("violations", schema=None) as batch_op:
        batch_op.create_index("ix_violations_created_at_id", ["created_at", "id"], unique=False)
        batch_op.create_index(
            "ix_violations_attributed_party_created",
            ["attributed_party_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index("ix_violations_lat_lon", ["lat", "lon"], unique=False)
    # An expression index, outside the batch: SQLite's batch mode would try to copy the table.
    op.create_index(
        "ix_violations_occurred_end",
        "violations",
        [sa.text("coalesce(occurred_until, occurred_at)")],
        unique=False,
    )
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.create_index(
            "ix_claims_claimant_violation", ["claimant_id", "violation_id"], unique=False
        )


def downgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"

    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index("ix_claims_claimant_violation")
    op.drop_index("ix_violations_occurred_end", table_name="violations")
    with op.batch_alter_table("violations", schema=None) as batch_op:
        batch_op.drop_index("ix_violations_lat_lon")
        batch_op.drop_index("ix_violations_attributed_party_created")
        batch_op.drop_index("ix_violations_created_at_id")
    if sqlite:
        for name in FTS_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS violation_fts")
    else:
        op.drop_index(
            "ix_violation_search_document_tsv",
            table_name="violation_search",
            postgresql_using="gin",
        )
    op.drop_table("violation_search")
