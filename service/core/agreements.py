"""Agreements: ceasefires and memoranda, their provisions and the zone they cover."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Agreement, Violation
from . import audit, violations
from .actors import Principal
from .common import apply_changes, ensure_can_edit
from .errors import Conflict, NotFound, ValidationFailed
from .parties import check_exist


def get(session: Session, agreement_id: str) -> Agreement:
    agreement = session.get(Agreement, agreement_id)
    if agreement is None:
        raise NotFound(f"No agreement with id '{agreement_id}'.")
    return agreement


def _validate_parties(session: Session, parties: list[str]) -> None:
    errors = check_exist(session, {f"parties.{i}": p for i, p in enumerate(parties)})
    if errors:
        raise ValidationFailed(errors)


def create(session: Session, actor: Principal, data: dict[str, Any]) -> Agreement:
    if session.get(Agreement, data["id"]) is not None:
        raise Conflict(f"An agreement with id '{data['id']}' exists already.")
    _validate_parties(session, data.get("parties", []))
    agreement = Agreement(
        id=data["id"],
        title=data["title"],
        signed_on=data.get("signed_on"),
        parties=data.get("parties", []),
        provisions=data.get("provisions", []),
        zone=data.get("zone"),
        zone_approximate=data.get("zone_approximate", False),
        description=data.get("description"),
        created_by_org=actor.org,
    )
    session.add(agreement)
    session.flush()
    audit.record(session, actor, "create", "agreement", agreement.id, {"fields": data})
    return agreement


def update(session: Session, actor: Principal, agreement: Agreement, data: dict[str, Any]):
    ensure_can_edit(actor, agreement.created_by_org, "agreement")
    if "parties" in data:
        _validate_parties(session, data["parties"])
    if "provisions" in data:
        _check_provisions_still_cited(session, agreement, data["provisions"])
    changed = apply_changes(agreement, data)
    if changed:
        session.flush()
        audit.record(session, actor, "update", "agreement", agreement.id, changed)
        if "zone" in changed:
            violations.refresh_zone_membership(session, actor, agreement)
    return agreement


def _check_provisions_still_cited(session: Session, agreement: Agreement, provisions) -> None:
    kept = {p["code"] for p in provisions}
    removed = {p["code"] for p in agreement.provisions} - kept
    if not removed:
        return
    cited = session.execute(
        select(Violation.provisions).where(Violation.agreement_id == agreement.id)
    ).scalars()
    still = sorted({code for codes in cited for code in (codes or []) if code in removed})
    if still:
        raise ValidationFailed(
            {"provisions": "violations still cite provision(s) " + ", ".join(still)}
        )


def list_(session: Session, *, after: str | None, limit: int) -> list[Agreement]:
    stmt = select(Agreement).order_by(Agreement.id).limit(limit)
    if after:
        stmt = stmt.where(Agreement.id > after)
    return list(session.execute(stmt).scalars())
