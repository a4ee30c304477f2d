"""Violations: alleged incidents, their claims, status and verdicts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    AffectedParty,
    Agreement,
    AuditEntry,
    StatusChange,
    Violation,
    utcnow,
)
from . import audit, bulk, claims, query, search, status
from .actors import Principal
from .common import ensure_can_edit
from .errors import Forbidden, NotFound, ValidationFailed
from .parties import check_exist
from .record import flatten
from .zones import zone_membership


def get(session: Session, violation_id: str, *, lock: bool = False) -> Violation:
    stmt = select(Violation).where(Violation.id == violation_id)
    if lock:
        # Claims and verdicts on one violation queue up here, so each sees the other's result.
        stmt = stmt.with_for_update()
    violation = session.execute(stmt).scalar_one_or_none()
    if violation is None:
        raise NotFound(f"No violation with id '{violation_id}'.")
    return violation


def check_refs(
    session: Session,
    data: dict[str, Any],
    agreement_id: str | None,
    *,
    known_parties: set[str] | None = None,
) -> dict[str, str]:
    refs = {}
    if data.get("attributed_party"):
        refs["attributed_party"] = data["attributed_party"]
    for i, pid in enumerate(data.get("affected_parties") or []):
        refs[f"affected_parties.{i}"] = pid
    if known_parties is not None:
        # Resolved in advance for a whole batch: only the unknown ones need a query (and a hint).
        refs = {field: pid for field, pid in refs.items() if pid not in known_parties}
    errors = check_exist(session, refs)
    agreement = None
    if agreement_id:
        agreement = session.get(Agreement, agreement_id)
        if agreement is None:
            errors["agreement"] = f"unknown agreement '{agreement_id}'"
    codes = data.get("provisions")
    if codes:
        if agreement is None and "agreement" not in errors:
            errors["provisions"] = "provisions need an agreement"
        elif agreement is not None:
            known = {p["code"] for p in agreement.provisions}
            for i, code in enumerate(codes):
                if code not in known:
                    errors[f"provisions.{i}"] = (
                        f"'{agreement.id}' has no provision '{code}'; it has: "
                        + ", ".join(sorted(known))
                    )
    return errors


def refresh_status(
    session: Session, actor: Principal | None, violation: Violation, claim_rows=None
) -> StatusChange | None:
    """Re-derive the status from live claims (unless a verdict stands) and record any change."""
    if violation.verdict is not None:
        return None
    rows = claim_rows if claim_rows is not None else claims.for_violation(session, violation.id)
    new, why = status.derive(violation, rows)
    if new == violation.status:
        return None
    return _set_status(session, actor, violation, new, why, verdict=None)


def _set_status(session, actor, violation, new, reason, verdict):
    change = StatusChange(
        **status.change_row(
            violation.id, violation.status, new, actor, reason, verdict=verdict, at=utcnow()
        )
    )
    violation.status = new
    violation.updated_at = change.at
    session.add(change)
    return change


def check_new(
    session: Session,
    data: dict[str, Any],
    *,
    known_parties: set[str] | None = None,
    known_sources: set[str] | None = None,
) -> None:
    """Refuse (422, every field at once) a new violation whose references do not resolve."""
    errors = check_refs(session, data, data.get("agreement"), known_parties=known_parties)
    for i, claim in enumerate(data.get("claims") or []):
        errors.update(
            claims.check_refs(
                session,
                claim,
                f"claims.{i}",
                None,
                known_parties=known_parties,
                known_sources=known_sources,
            )
        )
        if claim.get("responds_to") is not None:
            errors[f"claims.{i}.responds_to"] = (
                "a new violation has no claims yet: post the counterclaim after it is recorded"
            )
    if errors:
        raise ValidationFailed(errors)


def create(
    session: Session,
    actor: Principal,
    data: dict[str, Any],
    *,
    known: bulk.KnownRefs | None = None,
    audit_into: list[dict[str, Any]] | None = None,
) -> bulk.Made:
    """Record a violation and its inline claims (all or nothing: the caller's transaction).

    known: the references a batch has resolved for all its items (else resolved here, one
    query per kind). The rows are written by core.bulk, one statement per table, as a batch
    writes them; the answer holds what was written (the violation, its claims, its history).
    audit_into: the audit entries are handed to the caller instead (see audit.append).
    """
    known = known or bulk.prefetch(session, [data])
    check_new(session, data, known_parties=known.parties, known_sources=known.sources)
    # Copies: what this item adds is known to others only once it is written.
    writer = bulk.Writer(session, actor, dict(known.sources), dict(known.sources_by_ref))
    writer.add(data)
    made = writer.made()
    writer.flush(defer_audit=True, audit_into=audit_into)
    return made


def update(session: Session, actor: Principal, violation: Violation, data: dict[str, Any]):
    ensure_can_edit(actor, violation.reported_by, "violation")
    agreement_id = data.get("agreement", violation.agreement_id)
    check = dict(data)
    if "provisions" not in check and "agreement" in data:
        check["provisions"] = violation.provisions
    errors = check_refs(session, check, agreement_id)
    if errors:
        raise ValidationFailed(errors)
    values = flatten(data)
    merged_from = values.get("occurred_at", violation.occurred_at)
    merged_until = values.get("occurred_until", violation.occurred_until)
    if merged_until is not None and merged_from is not None and merged_until < merged_from:
        raise ValidationFailed({"occurred_until": "must not be before occurred_at"})
    changed: dict[str, Any] = {}
    for column, value in values.items():
        old = getattr(violation, column)
        if old != value:
            changed[column] = {"from": old, "to": value}
            setattr(violation, column, value)
    if "affected_parties" in data:
        old = [a.party_id for a in violation.affected]
        if old != data["affected_parties"]:
            changed["affected_parties"] = {"from": old, "to": data["affected_parties"]}
            violation.affected = [
                AffectedParty(party_id=pid, position=i)
                for i, pid in enumerate(data["affected_parties"])
            ]
    if not changed:
        return violation
    agreement = session.get(Agreement, violation.agreement_id) if violation.agreement_id else None
    violation.in_agreement_zone = zone_membership(agreement, violation.lat, violation.lon)
    violation.updated_at = utcnow()
    session.flush()
    audit.record(
        session, actor, "update", "violation", violation.id, changed, violation_id=violation.id
    )
    if "attributed_party_id" in changed:
        refresh_status(session, actor, violation)
    if "title" in changed or "description" in changed:
        search.refresh_search_document(session, violation)  # full-text search (issue 4)
    return violation


def add_claim(session: Session, actor: Principal, violation_id: str, data: dict[str, Any]):
    violation = get(session, violation_id, lock=True)
    errors = claims.check_refs(session, data, "", violation.id)
    if errors:
        raise ValidationFailed(errors)
    violation.claim_count = (violation.claim_count or 0) + 1
    violation.updated_at = utcnow()
    # Through the writer of everything new, as the claims of a new violation are.
    writer = bulk.Writer(session, actor)
    claim_id = writer.add_claim(violation.id, violation.claim_count, data)
    writer.flush(defer_audit=True)
    claim = claims.get(session, claim_id)
    refresh_status(session, actor, violation)
    search.refresh_search_document(session, violation)  # full-text search (issue 4)
    return claim


def update_claim(session: Session, actor: Principal, claim, data: dict[str, Any]):
    """Change a claim; its violation's status and search document follow."""
    claim = claims.update(session, actor, claim, data)
    claim_changed(session, actor, claim)
    return claim


def withdraw_claim(session: Session, actor: Principal, claim, reason: str):
    """Withdraw a claim: it stays, marked, and no longer counts toward the status."""
    claim = claims.withdraw(session, actor, claim, reason)
    claim_changed(session, actor, claim)
    return claim


def claim_changed(session: Session, actor: Principal, claim) -> None:
    """After a claim was edited or withdrawn: its violation's status may have moved."""
    violation = get(session, claim.violation_id, lock=True)
    violation.updated_at = utcnow()
    refresh_status(session, actor, violation)
    search.refresh_search_document(session, violation)  # full-text search (issue 4)


VERDICT_ROLES = {"confirmed": "verifier", "refuted": "verifier", "reopened": "verifier"}


def verdict(session: Session, actor: Principal, violation_id: str, kind: str, reason: str):
    violation = get(session, violation_id, lock=True)
    if kind == "retracted":
        if not (
            actor.role == "admin"
            or (actor.at_least("reporter") and actor.org == violation.reported_by)
        ):
            raise Forbidden("Only the reporting organisation or an admin may retract a violation.")
    elif not actor.at_least(VERDICT_ROLES[kind]):
        raise Forbidden(f"A '{kind}' verdict needs the verifier role.")
    if kind == "reopened":
        if violation.verdict is None:
            raise ValidationFailed({"verdict": "no verdict stands on this violation"})
        violation.verdict = None
        new, why = status.derive(violation, claims.for_violation(session, violation.id))
        change = _set_status(
            session, actor, violation, new, f"reopened: {reason}; {why}", verdict="reopened"
        )
    else:
        if violation.verdict == kind:
            raise ValidationFailed({"verdict": f"the violation is {kind} already"})
        violation.verdict = kind
        change = _set_status(session, actor, violation, kind, reason, verdict=kind)
    session.flush()
    audit.record(
        session,
        actor,
        "verdict",
        "violation",
        violation.id,
        {
            "verdict": kind,
            "reason": reason,
            "status": {"from": change.from_status, "to": change.to_status},
        },
        violation_id=violation.id,
    )
    return violation


def status_history(session: Session, violation_id: str) -> list[StatusChange]:
    stmt = (
        select(StatusChange)
        .where(StatusChange.violation_id == violation_id)
        .order_by(StatusChange.seq)
    )
    return list(session.execute(stmt).scalars())


def history(session: Session, violation_id: str) -> list[AuditEntry]:
    stmt = (
        select(AuditEntry).where(AuditEntry.violation_id == violation_id).order_by(AuditEntry.seq)
    )
    return list(session.execute(stmt).scalars())


def refresh_zone_membership(session: Session, actor: Principal, agreement: Agreement) -> None:
    """An agreement's zone changed: recompute in_agreement_zone of the violations under it."""
    stmt = select(Violation).where(Violation.agreement_id == agreement.id)
    for violation in session.execute(stmt).scalars():
        inside = zone_membership(agreement, violation.lat, violation.lon)
        if inside != violation.in_agreement_zone:
            audit.record(
                session,
                actor,
                "update",
                "violation",
                violation.id,
                {"in_agreement_zone": {"from": violation.in_agreement_zone, "to": inside}},
                violation_id=violation.id,
            )
            violation.in_agreement_zone = inside
            violation.updated_at = utcnow()


def list_(session: Session, *, filters: dict[str, Any], after: tuple | None, limit: int):
    """One page of violations in keyset order (see core.query: filters, paging, search)."""
    return query.list_page(session, filters, after, limit)
