"""Tables of the ledger, as typed SQLAlchemy 2 mappings."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    func,
    text,
)
from sqlalchemy.dialects import postgresql as _postgresql  # noqa: F401 (registers to_tsvector)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC on every backend; SQLite has no time zones, so we add it back on load."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC time is required")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    # The first characters of the key, so an admin can tell keys apart without the secret.
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None]


class Party(Base):
    __tablename__ = "parties"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    names: Mapped[dict[str, Any]] = mapped_column(default=dict)
    aliases: Mapped[list[Any]] = mapped_column(default=list)
    affiliations: Mapped[list[Any]] = mapped_column(default=list)
    description: Mapped[str | None] = mapped_column(Text)
    # Every name and alias, folded for case- and accent-insensitive look-up, "|"-separated.
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_by_org: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class Agreement(Base):
    __tablename__ = "agreements"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    signed_on: Mapped[date | None] = mapped_column(Date)
    parties: Mapped[list[Any]] = mapped_column(default=list)
    provisions: Mapped[list[Any]] = mapped_column(default=list)
    zone: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    zone_approximate: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text)
    created_by_org: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class AuditHead(Base):
    """One row: the last sequence number and hash of the audit chain.

    Writers lock this row before appending, so entries get their sequence numbers in commit
    order, and a change-feed poller that reads `after=<seq>` can never miss an entry.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class AuditEntry(Base):
    """Append-only, hash-chained record of every write (the database refuses UPDATE/DELETE)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_org: Mapped[str | None] = mapped_column(String(64))
    actor_key: Mapped[str | None] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    # The violation a claim or verdict belongs to, so a violation's history is one index scan.
    violation_id: Mapped[str | None] = mapped_column(String(36), index=True)
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)


class AuditCheckpoint(Base):
    """A prefix of the chain verified before (seq and hash of its last entry), so that a
    verification re-hashes only what came after it (core.audit.verify)."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[datetime] = mapped_column(default=utcnow)


class SealedValue(Base):
    """A confidential value the audit log refers to by its commitment (service.disclosure).

    The chained entry holds only the commitment, SHA-256 over `salt` and `value`; the row is
    destroyed by an erasure of the source it identifies, which the chain does not notice.
    """

    __tablename__ = "sealed_values"

    commitment: Mapped[str] = mapped_column(String(64), primary_key=True)
    salt: Mapped[str] = mapped_column(String(32))
    # The value's canonical JSON text.
    value: Mapped[str] = mapped_column(Text)
    # The source the value identifies (its own field, or the locator of a citation of it).
    source_id: Mapped[str | None] = mapped_column(String(36), index=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str | None] = mapped_column(String(500))
    publisher: Mapped[str | None] = mapped_column(String(200))
    author: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(2000))
    published_at: Mapped[datetime | None]
    retrieved_at: Mapped[datetime | None]
    archive_url: Mapped[str | None] = mapped_column(String(2000))
    sha256: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(35))
    reliability: Mapped[str | None] = mapped_column(String(1))
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    editions: Mapped[list[Any]] = mapped_column(default=list)
    # Natural key for imports and seeds, so loading the same data twice finds the first copy.
    external_ref: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_by_org: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The tombstone of an erasure: its identifying values are destroyed (core.sources.erase).
    erased_at: Mapped[datetime | None]
    erased_by: Mapped[str | None] = mapped_column(String(64))
    erased_reason: Mapped[str | None] = mapped_column(Text)

    __mapper_args__ = {"version_id_col": version}


CASUALTY_COLUMNS = [
    f"{group}_{figure}"
    for group in ("killed", "injured", "civilian_killed", "civilian_injured")
    for figure in ("low", "best", "high")
]


class Violation(Base):
    __tablename__ = "violations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32), index=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    occurred_until: Mapped[datetime | None]
    date_precision: Mapped[str] = mapped_column(String(8), default="exact")
    location_name: Mapped[str | None] = mapped_column(String(200))
    admin1: Mapped[str | None] = mapped_column(String(200), index=True)
    admin2: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    location_precision: Mapped[str | None] = mapped_column(String(8))
    agreement_id: Mapped[str | None] = mapped_column(ForeignKey("agreements.id"), index=True)
    provisions: Mapped[list[Any]] = mapped_column(default=list)
    # Indexed by ix_violations_attributed_party_created, which leads with it.
    attributed_party_id: Mapped[str | None] = mapped_column(ForeignKey("parties.id"))
    killed_low: Mapped[int | None]
    killed_best: Mapped[int | None]
    killed_high: Mapped[int | None]
    injured_low: Mapped[int | None]
    injured_best: Mapped[int | None]
    injured_high: Mapped[int | None]
    civilian_killed_low: Mapped[int | None]
    civilian_killed_best: Mapped[int | None]
    civilian_killed_high: Mapped[int | None]
    civilian_injured_low: Mapped[int | None]
    civilian_injured_best: Mapped[int | None]
    civilian_injured_high: Mapped[int | None]
    tags: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="reported", index=True)
    # The standing verdict (confirmed, refuted, retracted) or None while the status is derived.
    verdict: Mapped[str | None] = mapped_column(String(16))
    in_agreement_zone: Mapped[bool | None] = mapped_column(Boolean)
    claim_count: Mapped[int] = mapped_column(Integer, default=0)
    external_ref: Mapped[str | None] = mapped_column(String(200), unique=True)
    reported_by: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    affected: Mapped[list[AffectedParty]] = relationship(
        order_by="AffectedParty.position", cascade="all, delete-orphan", lazy="selectin"
    )
    claims: Mapped[list[Claim]] = relationship(
        back_populates="violation", order_by="Claim.seq", lazy="raise"
    )
    status_changes: Mapped[list[StatusChange]] = relationship(
        order_by="StatusChange.seq", lazy="raise"
    )

    __mapper_args__ = {"version_id_col": version}


class AffectedParty(Base):
    __tablename__ = "violation_affected_parties"

    violation_id: Mapped[str] = mapped_column(ForeignKey("violations.id"), primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class StatusChange(Base):
    """Append-only: every change of a violation's status, derived or set by a verdict."""

    __tablename__ = "status_changes"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    violation_id: Mapped[str] = mapped_column(ForeignKey("violations.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    by_org: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(Text)
    verdict: Mapped[str | None] = mapped_column(String(16))


class Claim(Base):
    __tablename__ = "claims"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    # Position among its violation's claims (1, 2, ...): they are listed in the order recorded.
    # Read only together with violation_id, so it has no index of its own.
    seq: Mapped[int] = mapped_column(Integer)
    violation_id: Mapped[str] = mapped_column(ForeignKey("violations.id"), index=True)
    # Indexed by ix_claims_claimant_violation, which leads with it.
    claimant_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    stance: Mapped[str] = mapped_column(String(16))
    responds_to_id: Mapped[str | None] = mapped_column(ForeignKey("claims.id"))
    statement: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(35))
    translations: Mapped[list[Any]] = mapped_column(default=list)
    made_at: Mapped[datetime | None]
    asserts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    credibility: Mapped[int | None] = mapped_column(Integer)
    withdrawn_at: Mapped[datetime | None]
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)
    withdrawn_by: Mapped[str | None] = mapped_column(String(64))
    created_by_org: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    violation: Mapped[Violation] = relationship(back_populates="claims", lazy="raise")
    sources: Mapped[list[ClaimSource]] = relationship(
        order_by="ClaimSource.position", cascade="all, delete-orphan", lazy="selectin"
    )

    __mapper_args__ = {"version_id_col": version}


class ClaimSource(Base):
    __tablename__ = "claim_sources"

    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), index=True)
    excerpt: Mapped[str | None] = mapped_column(Text)
    locator: Mapped[str | None] = mapped_column(String(500))

    source: Mapped[Source] = relationship(lazy="joined")


class IdempotencyKey(Base):
    """A POST's Idempotency-Key, the fingerprint of its request and the response it got.

    Scoped to the API key that sent it: only that key's holder can replay the answer, which is
    kept encrypted under a key derived from the API key itself (service.idempotency), so the
    table shows no one what the answer held. The row is claimed (state in_progress) in the
    request's transaction, then completed in the same transaction as the effect, so a
    committed effect always has its stored response.
    """

    __tablename__ = "idempotency_keys"

    api_key_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    status: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The id of what a request created whose answer is never stored (a new API key's secret).
    withheld_id: Mapped[str | None] = mapped_column(String(64))
    # "|"-separated ids of the confidential sources the answer showed, so that an erasure can
    # destroy the stored answers that hold their values.
    disclosed: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ViolationSearch(Base):
    """What `q` searches, one row per violation: its title, description, claim statements and
    translations, folded (case, accents, transliteration) so that both backends match alike.

    PostgreSQL searches it through a GIN index on to_tsvector('simple', document); SQLite through
    the FTS5 table `violation_fts`, which triggers keep in step with this table (see the
    migration). The integer key is that FTS5 table's rowid, so it must never change.
    """

    __tablename__ = "violation_search"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    violation_id: Mapped[str] = mapped_column(ForeignKey("violations.id"), unique=True)
    document: Mapped[str] = mapped_column(Text, default="")


# --- Indexes of the query API: filters and keyset paging at a million rows -------------------
# The list, the export and the stats order by (created_at, id), the keyset.
Index("ix_violations_created_at_id", Violation.created_at, Violation.id)
# The commonest filter of dashboards, read in keyset order without a sort.
Index(
    "ix_violations_attributed_party_created",
    Violation.attributed_party_id,
    Violation.created_at,
    Violation.id,
)
# occurred_from compares the end of the interval (occurred_at when it is a point in time).
OCCURRED_END = func.coalesce(Violation.occurred_until, Violation.occurred_at)
Index("ix_violations_occurred_end", OCCURRED_END)
Index("ix_violations_lat_lon", Violation.lat, Violation.lon)
# claimant=: EXISTS (claims of this claimant about this violation), answered from the index.
Index("ix_claims_claimant_violation", Claim.claimant_id, Claim.violation_id)
# PostgreSQL only (FTS5 serves SQLite); `info` tells migrations/env.py to skip it elsewhere.
SEARCH_VECTOR = func.to_tsvector(text("'simple'::regconfig"), ViolationSearch.document)
Index(
    "ix_violation_search_document_tsv",
    SEARCH_VECTOR,
    postgresql_using="gin",
    info={"only_dialect": "postgresql"},
)
