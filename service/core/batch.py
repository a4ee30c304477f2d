"""Many violations in one transaction, each item atomic on its own (SAVEPOINTs, see below)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from . import audit, bulk, violations
from .actors import Principal
from .errors import Conflict, DomainError, ValidationFailed

MAX_ITEMS = 1000
# Items written per SAVEPOINT and flush on the fast path; a failing chunk is redone item by item.
CHUNK = 100


@dataclass
class ItemResult:
    """What happened to one item: recorded with its new id, or refused (`error`)."""

    index: int
    id: str | None = None
    error: DomainError | None = None


def _failure(index: int, exc: Exception) -> ItemResult:
    if isinstance(exc, DomainError):
        return ItemResult(index=index, error=exc)
    if isinstance(exc, DataError):
        return ItemResult(
            index=index,
            error=ValidationFailed({"body": "a value does not fit what the database stores"}),
        )
    # IntegrityError: a unique or foreign key that another writer took in the meantime.
    return ItemResult(
        index=index,
        error=Conflict(
            "conflicts with data already recorded",
            errors=[{"field": "body", "reason": "conflicts with data already recorded"}],
        ),
    )


def _chunk_at_once(
    session: Session,
    actor: Principal,
    chunk: Sequence[tuple[int, dict[str, Any]]],
    known,
    entries: list[dict[str, Any]],
) -> list[ItemResult] | None:
    """The fast path: the whole chunk in one SAVEPOINT, one INSERT per table (core.bulk).

    An item whose references do not resolve is reported and left out before anything is
    written. When the database refuses the chunk (a constraint, a value it cannot store), the
    chunk is rolled back and None answered, so that the caller redoes it item by item. The
    audit entries of a chunk that stands are added to `entries`.
    """
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
            results.append(ItemResult(index=index, id=vid))
    written: list[dict[str, Any]] = []
    try:
        with session.begin_nested():
            writer.flush(audit_into=written)
    except (IntegrityError, DataError):
        return None
    entries.extend(written)
    # Inline sources this chunk created can be cited by external_ref in later chunks.
    known.sources.update(writer.sources)
    known.sources_by_ref.update(writer.sources_by_ref)
    return results


def _one_by_one(
    session: Session,
    actor: Principal,
    chunk: Sequence[tuple[int, dict[str, Any]]],
    entries: list[dict[str, Any]],
) -> list[ItemResult]:
    """The slow path: a SAVEPOINT per item, so a failing item is rolled back alone.

    Each item resolves its references afresh rather than from the batch's prefetch: it then
    finds the sources that earlier items of this chunk created, and those that another writer
    committed since the prefetch (a shared external_ref, which made the chunk fail).
    """
    results: list[ItemResult] = []
    for index, data in chunk:
        written: list[dict[str, Any]] = []
        try:
            with session.begin_nested():
                violation = violations.create(session, actor, data, audit_into=written)
        except (DomainError, IntegrityError, DataError) as exc:
            results.append(_failure(index, exc))
        else:
            entries.extend(written)
            results.append(ItemResult(index=index, id=violation.id))
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

    The audit entries of every item that stands are appended in one go after the last chunk,
    at commit where that is safe (audit.append): the chain head is locked only then, so
    concurrent batches build and write their rows side by side, and the head row is written
    once per batch (PostgreSQL slows down quadratically on one row updated again and again
    within one transaction).
    """
    if not items:
        return []
    known = bulk.prefetch(session, (data for _index, data in items))
    entries: list[dict[str, Any]] = []
    results: list[ItemResult] = []
    for start in range(0, len(items), chunk_size):
        chunk = items[start : start + chunk_size]
        done = _chunk_at_once(session, actor, chunk, known, entries)
        if done is None:
            done = _one_by_one(session, actor, chunk, entries)
        results.extend(done)
    audit.append(session, entries)
    return results
