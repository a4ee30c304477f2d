"""Sources: provenance records. Who may see a confidential one's identity is the disclosure
policy's to say (service.disclosure); here they are recorded, changed and erased."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from .. import db
from ..auth import Principal
from ..disclosure import EDITION_IDENTIFYING, SOURCE_IDENTIFYING
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..models import ClaimSource, IdempotencyKey, SealedValue, Source, utcnow
from . import audit
from .common import apply_changes, ensure_can_edit


def get(session: Session, source_id: str) -> Source:
    source = session.get(Source, source_id)
    if source is None:
        raise NotFound(f"No source with id '{source_id}'.")
    return source


def find_by_ref(session: Session, external_ref: str) -> Source | None:
    return session.execute(
        select(Source).where(Source.external_ref == external_ref)
    ).scalar_one_or_none()


def create(session: Session, actor: Principal, data: dict[str, Any]) -> Source:
    ref = data.get("external_ref")
    if ref and find_by_ref(session, ref) is not None:
        raise Conflict(f"A source with external_ref '{ref}' exists already.")
    source = Source(**data, created_by_org=actor.org)
    session.add(source)
    session.flush()
    audit.record(session, actor, "create", "source", source.id, {"fields": data})
    return source


def update(session: Session, actor: Principal, source: Source, data: dict[str, Any]) -> Source:
    ensure_can_edit(actor, source.created_by_org, "source")
    if source.erased_at is not None:
        given = [f for f in SOURCE_IDENTIFYING if data.get(f) is not None]
        given += [
            f"editions.{i}.url"
            for i, e in enumerate(data.get("editions") or [])
            if any(e.get(name) is not None for name in EDITION_IDENTIFYING)
        ]
        if given:
            raise ValidationFailed(
                {f: "the source was erased: its identifying values cannot be set" for f in given}
            )
    changed = apply_changes(source, data)
    if changed:
        session.flush()
        # The audit log seals the identifying values (service.disclosure.seal).
        audit.record(session, actor, "update", "source", source.id, changed)
    return source


def erase(session: Session, actor: Principal, source: Source, reason: str) -> Source:
    """Destroy the values that identify a source wherever the service keeps them: the row, the
    audit log's sealed values, the locators of its citations and stored answers that showed
    them. A tombstone (erased_at, erased_by, the reason) and an audit entry remain; the chain
    still verifies, since it holds commitments only."""
    if not actor.can_edit(source.created_by_org):
        raise Forbidden(
            "Only the organisation that recorded this source, or an admin, may erase it."
        )
    if source.erased_at is not None:
        raise Conflict(f"Source '{source.id}' was erased already.")
    now = utcnow()
    for name in SOURCE_IDENTIFYING:
        setattr(source, name, None)
    source.editions = [
        {**edition, **dict.fromkeys(EDITION_IDENTIFYING)} for edition in source.editions or []
    ]
    source.erased_at = source.updated_at = now
    source.erased_by = actor.org
    source.erased_reason = reason
    session.flush()
    session.execute(
        sql_update(ClaimSource).where(ClaimSource.source_id == source.id).values(locator=None)
    )
    session.execute(delete(SealedValue).where(SealedValue.source_id == source.id))
    session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.disclosed.contains(f"|{source.id}|"))
    )
    audit.record(session, actor, "erase", "source", source.id, {"reason": reason})
    db.scrub_after_commit(session)
    return source


def resolve(session: Session, ids: list[str], field_prefix: str) -> dict[str, Source]:
    found = {
        s.id: s for s in session.execute(select(Source).where(Source.id.in_(set(ids)))).scalars()
    }
    missing = {
        f"{field_prefix}.{i}.source_id": f"unknown source '{sid}'"
        for i, sid in enumerate(ids)
        if sid not in found
    }
    if missing:
        raise ValidationFailed(missing)
    return found


def list_(
    session: Session, *, publisher: str | None, kind: str | None, after: str | None, limit: int
) -> list[Source]:
    stmt = select(Source).order_by(Source.id).limit(limit)
    if publisher:
        stmt = stmt.where(Source.publisher == publisher)
    if kind:
        stmt = stmt.where(Source.kind == kind)
    if after:
        stmt = stmt.where(Source.id > after)
    return list(session.execute(stmt).scalars())
