"""Many violations in one transaction, each item atomic on its own (SAVEPOINTs, see below)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from ..auth import Principal
from ..errors import DomainError
from ..models import Agreement, Party, Source
from . import audit, bulk, violations

MAX_ITEMS = 1000
# Items written per SAVEPOINT and flush on the fast path; a failing chunk is redone item by item.
CHUNK = 100
# Bound parameters per IN (...) query; SQLite allows 32,766 and PostgreSQL 65,535.
_IN_CHUNK = 5000


@dataclass
class ItemResult:
    """What happened to one item: 201 with the new id, or an error status with its fields."""

    index: int
    status: int
    id: str | None = None
    errors: list[dict[str, str]] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.id is not None:
            out["id"] = self.id
        if self.errors is not None:
            out["errors"] = self.errors
        return out


@dataclass
class KnownRefs:
    """The referenced ids that exist, resolved once for a whole batch."""

    parties: set[str]
    # Cited sources by id, and inline sources that exist already by their external_ref.
    sources: dict[str, bulk.SourceRef]
    sources_by_ref: dict[str, bulk.SourceRef] = field(default_factory=dict)
    # The session's identity map holds objects weakly: without this reference the prefetched
    # agreements would be collected at once and every item would query its agreement again.
    agreements: list[Agreement] = field(default_factory=list)


def _chunks(ids: set[str]):
    ordered = sorted(ids)
    for start in range(0, len(ordered), _IN_CHUNK):
        yield ordered[start : start + _IN_CHUNK]


def _ids_in(session: Session, column, ids: set[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(ids):
        found.update(session.execute(select(column).where(column.in_(chunk))).scalars())
    return found


def _sources_by(session: Session, column, values: set[str]) -> dict[str, bulk.SourceRef]:
    found: dict[str, bulk.SourceRef] = {}
    for chunk in _chunks(values):
        stmt = select(column, Source.id, Source.publisher).where(column.in_(chunk))
        for key, sid, publisher in session.execute(stmt):
            found[key] = bulk.SourceRef(id=sid, publisher=publisher)
    return found


def prefetch(session: Session, items: Iterable[dict[str, Any]]) -> KnownRefs:
    """One query per kind of reference for the whole batch instead of several per item.

    Agreements are loaded whole into the session's identity map, where `session.get` finds
    them without a query; parties only need to be known to exist; sources, cited by id or
    inline with an external_ref that may exist already, with the publisher the status needs.
    """
    party_ids: set[str] = set()
    agreement_ids: set[str] = set()
    source_ids: set[str] = set()
    source_refs: set[str] = set()
    for data in items:
        if data.get("attributed_party"):
            party_ids.add(data["attributed_party"])
        party_ids.update(p for p in data.get("affected_parties") or [] if p)
        if data.get("agreement"):
            agreement_ids.add(data["agreement"])
        for claim in data.get("claims") or []:
            if claim.get("claimant"):
                party_ids.add(claim["claimant"])
            asserted = (claim.get("asserts") or {}).get("attributed_party")
            if isinstance(asserted, str):
                party_ids.add(asserted)
            for link in claim.get("sources") or []:
                if link.get("source_id"):
                    source_ids.add(link["source_id"])
                elif (link.get("source") or {}).get("external_ref"):
                    source_refs.add(link["source"]["external_ref"])
    agreements = (
        list(
            session.execute(
                select(Agreement).where(Agreement.id.in_(sorted(agreement_ids)))
            ).scalars()
        )
        if agreement_ids
        else []
    )
    return KnownRefs(
        agreements=agreements,
        parties=_ids_in(session, Party.id, party_ids) if party_ids else set(),
        sources=_sources_by(session, Source.id, source_ids) if source_ids else {},
        sources_by_ref=_sources_by(session, Source.external_ref, source_refs)
        if source_refs
        else {},
    )


def _failure(index: int, exc: Exception) -> ItemResult:
    if isinstance(exc, DomainError):
        errors = exc.errors or [{"field": "body", "reason": exc.detail}]
        return ItemResult(index=index, status=exc.status, errors=errors)
    if isinstance(exc, DataError):
        return ItemResult(
            index=index,
            status=422,
            errors=[{"field": "body", "reason": "a value does not fit what the database stores"}],
        )
    # IntegrityError: a unique or foreign key that another writer took in the meantime.
    return ItemResult(
        index=index,
        status=409,
        errors=[{"field": "body", "reason": "conflicts with data already recorded"}],
    )


def _chunk_at_once(
    session: Session, actor: Principal, chunk: Sequence[tuple[int, dict[str, Any]]], known
) -> list[ItemResult] | None:
    """The fast path: the whole chunk in one SAVEPOINT, one INSERT per table (core.bulk).

    An item whose references do not resolve is reported and left out before anything is
    written. When the database refuses the chunk (a constraint, a value it cannot store), the
    chunk is rolled back and None answered, so that the caller redoes it item by item.
    """
    if audit.locked_head(session) is None:
        return None  # called inside a SAVEPOINT that did not lock the head: item by item
    results: list[ItemResult] = []
    writer = bulk.Writer(session, actor, dict(known.sources), dict(known.sources_by_ref))
    for index, data in chunk:
        try:
            violations.check_new(
                session, data, known_parties=known.parties, known_sources=known.sources
            )
            vid = writer.add(data)
        except DomainError as exc:
            results.append(_failure(index, exc))
        else:
            results.append(ItemResult(index=index, status=201, id=vid))
    try:
        with session.begin_nested():
            writer.flush()
    except (IntegrityError, DataError):
        return None
    # Inline sources this chunk created can be cited by external_ref in later chunks.
    known.sources.update(writer.sources)
    known.sources_by_ref.update(writer.sources_by_ref)
    return results


def _one_by_one(
    session: Session, actor: Principal, chunk: Sequence[tuple[int, dict[str, Any]]], known
) -> list[ItemResult]:
    """The slow path: a SAVEPOINT per item, so a failing item is rolled back alone."""
    results: list[ItemResult] = []
    for index, data in chunk:
        try:
            with session.begin_nested():
                violation = violations.create(
                    session,
                    actor,
                    data,
                    known_parties=known.parties,
                    known_sources=known.sources,
                )
        except (DomainError, IntegrityError, DataError) as exc:
            results.append(_failure(index, exc))
        else:
            results.append(ItemResult(index=index, status=201, id=violation.id))
    return results


def create_violations(
    session: Session,
    actor: Principal,
    items: Sequence[tuple[int, dict[str, Any]]],
    *,
    chunk_size: int = CHUNK,
) -> list[ItemResult]:
    """Record each (index, data) as violations.create would; each item atomic on its own.

    An item that fails (a reference that does not resolve, a constraint) leaves nothing behind
    and is reported with its status and fields; the others stand. Items are written a chunk
    at a time (one SAVEPOINT and one INSERT per table per chunk, core.bulk); a chunk in which
    something fails at the database is rolled back and redone through violations.create with
    a SAVEPOINT per item. Nothing is committed here.
    """
    if not items:
        return []
    known = prefetch(session, (data for _index, data in items))
    if not session.in_nested_transaction():
        # Held until commit anyway: taken once here rather than once per audit entry, and the
        # head row is then written once per chunk instead of once per item (PostgreSQL slows
        # down quadratically on one row updated again and again within one transaction).
        audit.lock_head(session)
    results: list[ItemResult] = []
    for start in range(0, len(items), chunk_size):
        chunk = items[start : start + chunk_size]
        done = _chunk_at_once(session, actor, chunk, known)
        if done is None:
            done = _one_by_one(session, actor, chunk, known)
        results.extend(done)
    return results
