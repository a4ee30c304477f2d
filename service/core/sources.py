"""Sources: provenance records; confidential ones hide who and where to those who may not know."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth import Principal
from ..errors import Conflict, NotFound, ValidationFailed
from ..models import Source
from . import audit
from .common import apply_changes, ensure_can_edit

IDENTIFYING = ("author", "url", "archive_url")


def may_identify(actor: Principal | None, source: Source) -> bool:
    """Verifiers, admins and the recording organisation see who a confidential source is."""
    if not source.confidential:
        return True
    if actor is None:
        return False
    return actor.at_least("verifier") or (
        actor.org is not None and actor.org == source.created_by_org
    )


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
    audit.record(session, actor, "create", "source", source.id, {"fields": loggable(data)})
    return source


def loggable(data: dict[str, Any]) -> dict[str, Any]:
    # The audit log is readable through history: identities of witnesses stay out of it.
    return {
        k: ("[confidential]" if k in IDENTIFYING and data.get("confidential") else v)
        for k, v in data.items()
    }


def update(session: Session, actor: Principal, source: Source, data: dict[str, Any]) -> Source:
    ensure_can_edit(actor, source.created_by_org, "source")
    changed = apply_changes(source, data)
    if changed:
        session.flush()
        if source.confidential:
            changed = {
                k: ({"from": "[confidential]", "to": "[confidential]"} if k in IDENTIFYING else v)
                for k, v in changed.items()
            }
        audit.record(session, actor, "update", "source", source.id, changed)
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
