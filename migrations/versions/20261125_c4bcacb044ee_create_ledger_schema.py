"""Create the ledger schema: organisations, keys, parties, agreements, sources, violations,
claims, status history and the append-only audit log.

Revision ID: c4bcacb044ee
Revises:
Create Date: 2026-11-25 22:24:39.631980
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.models

revision: str = "c4bcacb044ee"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", service.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_org", sa.String(length=64), nullable=True),
        sa.Column("actor_key", sa.String(length=36), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("violation_id", sa.String(length=36), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_entity", ["entity", "entity_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_log_violation_id"), ["violation_id"], unique=False
        )

    op.create_table(
        "organisations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", service.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
    )
    op.create_table(
        "agreements",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("parties", sa.JSON(), nullable=False),
        sa.Column("provisions", sa.JSON(), nullable=False),
        sa.Column("zone", sa.JSON(), nullable=True),
        sa.Column("zone_approximate", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_by_org", sa.String(length=64), nullable=False),
        sa.Column("created_at", service.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", service.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_org"],
            ["organisations.id"],
            name=op.f("fk_agreements_created_by_org_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreements")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("created_at", service.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("revoked_at", service.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_api_keys_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_org_id"), ["org_id"], unique=False)

    op.create_table(
        "parties",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("affiliations", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_by_org", sa.String(length=64), nullable=False),
        sa.Column("created_at", service.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", service.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_org"],
            ["organisations.id"],
            name=op.f("fk_parties_created_by_org_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parties")),
    )
    op.create_table(
        "sources",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("publisher", sa.String(length=200), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("published_at", service.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retrieved_at", service.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("archive_url", sa.String(length=2000), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("reliability", sa.String(length=1), nullable=True),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("editions", sa.JSON(), nullable=False),
        sa.Column("external_ref", sa.String(length=200), nullable=True),
        sa.Column("created_by_org", sa.String(length=64), nullable=False),
        sa.Column("created_at", service.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", service.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_org"],
            ["organisations.id"],
            name=op.f("fk_sources_created_by_org_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_sources_external_ref")),
    )
    op.create_table(
        "violations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", service.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("occurred_until", service.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("date_precision", sa.String(length=8), nullable=False),
        sa.Column("location_name", sa.String(length=200), nullable=True),
        sa.Column("admin1", sa.String(length=200), nullable=True),
        sa.Column("admin2", sa.String(length=200), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("location_precision", sa.String(length=8), nullable=True),
        sa.Column("agreement_id", sa.String(length=64), nullable=True),
        sa.Column("provisions", sa.JSON(), nullable=False),
        sa.Column("attributed_party_id", sa.String(length=64), nullable=True),
        sa.Column("killed_low", sa.Integer(), nullable=True),
        sa.Column("killed_best", sa.Integer(), nullable=True),
        sa.Column("killed_high", sa.Integer(), nullable=True),
        sa.Column("injured_low", sa.Integer(), nullable=True),
        sa.Column("injured_best", sa.Integer(), nullable=True),
        sa.Column("injured_high", sa.Integer(), nullable=True),
        sa.Column("civilian_killed_low", sa.Integer(), nullable=True),
        sa.Column("civilian_killed_best", sa.Integer(), nullable=True),
        sa.Column("civilian_killed_high", sa.Integer(), nullable=True),
        sa.Column("civilian_injured_low", sa.Integer(), nullable=True),
        sa.Column("civilian_injured_best", sa.Integer(), nullable=True),
        sa.Column("civilian_injured_high", sa.Integer(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("in_agreement_zone", sa.Boolean(), nullable=True),
        sa.Column("claim_count", sa.Integer(), nullable=False),
        sa.Column("external_ref", sa.String(length=200), nullable=True),
        sa.Column("reported_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", service.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", service.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"], ["agreements.id"], name=op.f("fk_violations_agreement_id_agreements")
        ),
        sa.ForeignKeyConstraint(
            ["attributed_party_id"],
            ["parties.id"],
            name=op.f("fk_violations_attributed_party_id_parties"),
        ),
        sa.ForeignKeyConstraint(
            ["reported_by"],
            ["organisations.id"],
            name=op.f("fk_violations_reported_by_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_violations")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_violations_external_ref")),
    )
    with op.batch_alter_table("violations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_violations_admin1"), ["admin1"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_violations_agreement_id"), ["agreement_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_violations_attributed_party_id"), ["attributed_party_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_violations_category"), ["category"], unique=False)
        batch_op.create_index(batch_op.f("ix_violations_country"), ["country"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_violations_occurred_at"), ["occurred_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_violations_reported_by"), ["reported_by"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_violations_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_violations_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "claims",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("violation_id", sa.String(length=36), nullable=False),
        sa.Column("claimant_id", sa.String(length=64), nullable=False),
        sa.Column("stance", sa.String(length=16), nullable=False),
        sa.Column("responds_to_id", sa.String(length=36), nullable=True),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("translations", sa.JSON(), nullable=False),
        sa.Column("made_at", service.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("asserts", sa.JSON(), nullable=False),
        sa.Column("credibility", sa.Integer(), nullable=True),
        sa.Column("withdrawn_at", service.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_reason", sa.Text(), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=64), nullable=True),
        sa.Column("created_by_org", sa.String(length=64), nullable=False),
        sa.Column("created_at", service.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", service.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["claimant_id"], ["parties.id"], name=op.f("fk_claims_claimant_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_org"],
            ["organisations.id"],
            name=op.f("fk_claims_created_by_org_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["responds_to_id"], ["claims.id"], name=op.f("fk_claims_responds_to_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["violation_id"], ["violations.id"], name=op.f("fk_claims_violation_id_violations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
    )
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claims_claimant_id"), ["claimant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_claims_seq"), ["seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_claims_violation_id"), ["violation_id"], unique=False)

    op.create_table(
        "status_changes",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("violation_id", sa.String(length=36), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("by_org", sa.String(length=64), nullable=True),
        sa.Column("at", service.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["violation_id"],
            ["violations.id"],
            name=op.f("fk_status_changes_violation_id_violations"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_status_changes")),
    )
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_status_changes_violation_id"), ["violation_id"], unique=False
        )

    op.create_table(
        "violation_affected_parties",
        sa.Column("violation_id", sa.String(length=36), nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_id"],
            ["parties.id"],
            name=op.f("fk_violation_affected_parties_party_id_parties"),
        ),
        sa.ForeignKeyConstraint(
            ["violation_id"],
            ["violations.id"],
            name=op.f("fk_violation_affected_parties_violation_id_violations"),
        ),
        sa.PrimaryKeyConstraint(
            "violation_id", "party_id", name=op.f("pk_violation_affected_parties")
        ),
    )
    with op.batch_alter_table("violation_affected_parties", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_violation_affected_parties_party_id"), ["party_id"], unique=False
        )

    op.create_table(
        "claim_sources",
        sa.Column("claim_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=36), nullable=False),
        sa.Column("excerpt", sa.Text(), nullable=True),
        sa.Column("locator", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_sources_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_claim_sources_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("claim_id", "position", name=op.f("pk_claim_sources")),
    )
    with op.batch_alter_table("claim_sources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claim_sources_source_id"), ["source_id"], unique=False)

    op.bulk_insert(
        sa.table("audit_head", sa.column("id"), sa.column("seq"), sa.column("hash")),
        [{"id": 1, "seq": 0, "hash": "0" * 64}],
    )
    _append_only("audit_log")
    _append_only("status_changes")


APPEND_ONLY_TABLES = ("audit_log", "status_changes")


def _append_only(table: str) -> None:
    """The database itself refuses to change or remove history rows."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ledger_append_only()")
    with op.batch_alter_table("claim_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claim_sources_source_id"))

    op.drop_table("claim_sources")
    with op.batch_alter_table("violation_affected_parties", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_violation_affected_parties_party_id"))

    op.drop_table("violation_affected_parties")
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_changes_violation_id"))

    op.drop_table("status_changes")
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claims_violation_id"))
        batch_op.drop_index(batch_op.f("ix_claims_seq"))
        batch_op.drop_index(batch_op.f("ix_claims_claimant_id"))

    op.drop_table("claims")
    with op.batch_alter_table("violations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_violations_updated_at"))
        batch_op.drop_index(batch_op.f("ix_violations_status"))
        batch_op.drop_index(batch_op.f("ix_violations_reported_by"))
        batch_op.drop_index(batch_op.f("ix_violations_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_violations_country"))
        batch_op.drop_index(batch_op.f("ix_violations_category"))
        batch_op.drop_index(batch_op.f("ix_violations_attributed_party_id"))
        batch_op.drop_index(batch_op.f("ix_violations_agreement_id"))
        batch_op.drop_index(batch_op.f("ix_violations_admin1"))

    op.drop_table("violations")
    op.drop_table("sources")
    op.drop_table("parties")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_org_id"))

    op.drop_table("api_keys")
    op.drop_table("agreements")
    op.drop_table("organisations")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_violation_id"))
        batch_op.drop_index("ix_audit_log_entity")

    op.drop_table("audit_log")
    op.drop_table("audit_head")
