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
from . import audit, violations

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
    sources: set[str]
    # The session's identity map holds objects weakly: without this reference the prefetched
    # agreements would be collected at once and every item would query its agreement again.
    agreements: list[Agreement] = field(default_factory=list)


def _ids_in(session: Session, column, ids: set[str]) -> set[str]:
    found: set[str] = set()
    ordered = sorted(ids)
    for start in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[start : start + _IN_CHUNK]
        found.update(session.execute(select(column).where(column.in_(chunk))).scalars())
    return found


def prefetch(session: Session, items: Iterable[dict[str, Any]]) -> KnownRefs:
    """One query per kind of reference for the whole batch instead of several per item.

    Agreements are loaded whole into the session's identity map, where `session.get` finds
    them without a query; parties and sources only need to be known to exist.
    """
    party_ids: set[str] = set()
    agreement_ids: set[str] = set()
    source_ids: set[str] = set()
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
            source_ids.update(
                s["source_id"] for s in claim.get("sources") or [] if s.get("source_id")
            )
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
        sources=_ids_in(session, Source.id, source_ids) if source_ids else set(),
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


class _Redo(Exception):
    """An item failed after it had written something: its chunk must be redone item by item."""


def _footprint(session: Session) -> int:
    # Grows with every object an item adds (pending or flushed), whatever the item's path.
    return len(session.identity_map) + len(session.new)


def _chunk_at_once(
    session: Session, actor: Principal, chunk: Sequence[tuple[int, dict[str, Any]]], known
) -> list[ItemResult] | None:
    """The fast path: the whole chunk in one SAVEPOINT and one flush.

    An item refused before it wrote anything (the usual case: a reference that does not
    resolve) is reported and skipped. Anything else (a constraint, an item refused half-way)
    rolls the chunk back and answers None, so that the caller redoes it item by item.
    """
    results: list[ItemResult] = []
    try:
        with session.begin_nested(), session.no_autoflush:
            for index, data in chunk:
                before = _footprint(session)
                try:
                    violation = violations.create(
                        session,
                        actor,
                        data,
                        known_parties=known.parties,
                        known_sources=known.sources,
                        flush=False,
                    )
                except DomainError as exc:
                    if _footprint(session) != before:
                        raise _Redo from exc
                    results.append(_failure(index, exc))
                else:
                    results.append(ItemResult(index=index, status=201, id=violation.id))
    except (_Redo, IntegrityError, DataError):
        return None
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
    """Record each (index, data) through violations.create; each item atomic on its own.

    An item that fails (a reference that does not resolve, a constraint) leaves nothing behind
    and is reported with its status and fields; the others stand. Items are written a chunk
    at a time (one SAVEPOINT and one flush per chunk); a chunk in which something fails at the
    database is rolled back and redone with a SAVEPOINT per item. Nothing is committed here.
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
