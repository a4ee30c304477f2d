"""Claims and counterclaims about a violation, with the sources each one cites."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Claim, ClaimSource, Source, utcnow
from . import audit, sources
from .actors import Principal
from .common import ensure_can_edit
from .errors import NotFound, ValidationFailed
from .parties import check_exist


def get(session: Session, claim_id: str) -> Claim:
    claim = session.get(Claim, claim_id)
    if claim is None:
        raise NotFound(f"No claim with id '{claim_id}'.")
    return claim


def for_violation(session: Session, violation_id: str) -> list[Claim]:
    stmt = select(Claim).where(Claim.violation_id == violation_id).order_by(Claim.seq, Claim.id)
    return list(session.execute(stmt).scalars())


def check_refs(
    session: Session,
    data: dict[str, Any],
    prefix: str,
    violation_id: str | None,
    *,
    known_parties: set[str] | None = None,
    known_sources: set[str] | None = None,
) -> dict[str, str]:
    """Every reference in a claim that does not resolve, as {field: reason}.

    known_parties / known_sources: ids found to exist in advance (a batch); not queried again.
    """
    p = f"{prefix}." if prefix else ""
    refs = {}
    if "claimant" in data:
        refs[f"{p}claimant"] = data["claimant"]
    asserted_party = (data.get("asserts") or {}).get("attributed_party")
    if isinstance(asserted_party, str):
        refs[f"{p}asserts.attributed_party"] = asserted_party
    if known_parties is not None:
        refs = {field: pid for field, pid in refs.items() if pid not in known_parties}
    errors = check_exist(session, refs)
    target = data.get("responds_to")
    # An empty string is no claim id either (it used to reach the foreign key: a 409).
    if target is not None:
        answered = session.get(Claim, target)
        if answered is None or violation_id is None or answered.violation_id != violation_id:
            errors[f"{p}responds_to"] = "must be a claim of the same violation"
    wanted = [s["source_id"] for s in data.get("sources", []) if s.get("source_id")]
    if known_sources is not None:
        wanted = [sid for sid in wanted if sid not in known_sources]
    if wanted:
        known = set(session.execute(select(Source.id).where(Source.id.in_(wanted))).scalars())
        for i, item in enumerate(data.get("sources", [])):
            if item.get("source_id") and item["source_id"] not in known:
                errors[f"{p}sources.{i}.source_id"] = f"unknown source '{item['source_id']}'"
    return errors


def _links(session: Session, actor: Principal, items: list[dict[str, Any]]) -> list[ClaimSource]:
    links = []
    for i, item in enumerate(items):
        if item.get("source") is not None:
            inline = item["source"]
            existing = (
                sources.find_by_ref(session, inline["external_ref"])
                if inline.get("external_ref")
                else None
            )
            src = existing or sources.create(session, actor, inline)
        else:
            src = session.get(Source, item["source_id"])
        links.append(
            ClaimSource(
                position=i,
                source=src,
                source_id=src.id,
                excerpt=item.get("excerpt"),
                locator=item.get("locator"),
            )
        )
    return links


def _summary(claim: Claim) -> dict[str, Any]:
    return {
        "claimant": claim.claimant_id,
        "stance": claim.stance,
        "responds_to": claim.responds_to_id,
        "statement": claim.statement,
        "language": claim.language,
        "translations": claim.translations,
        "made_at": claim.made_at,
        "asserts": claim.asserts,
        "credibility": claim.credibility,
        "sources": [
            {"source_id": s.source_id, "excerpt": s.excerpt, "locator": s.locator}
            for s in claim.sources
        ],
    }


def update(session: Session, actor: Principal, claim: Claim, data: dict[str, Any]) -> Claim:
    ensure_can_edit(actor, claim.created_by_org, "claim")
    errors = check_refs(session, data, "", claim.violation_id)
    if data.get("responds_to") == claim.id:
        errors["responds_to"] = "a claim cannot respond to itself"
    if errors:
        raise ValidationFailed(errors)
    before = _summary(claim)
    simple = {"claimant": "claimant_id", "responds_to": "responds_to_id"}
    for field, value in data.items():
        if field == "sources":
            claim.sources = _links(session, actor, value)
        else:
            setattr(claim, simple.get(field, field), value)
    after = _summary(claim)
    changed = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
    if changed:
        claim.updated_at = utcnow()
        session.flush()
        audit.record(
            session, actor, "update", "claim", claim.id, changed, violation_id=claim.violation_id
        )
    return claim


def withdraw(session: Session, actor: Principal, claim: Claim, reason: str) -> Claim:
    ensure_can_edit(actor, claim.created_by_org, "claim")
    if claim.withdrawn_at is not None:
        raise ValidationFailed({"claim": "is withdrawn already"})
    claim.withdrawn_at = utcnow()
    claim.withdrawn_reason = reason
    claim.withdrawn_by = actor.org
    claim.updated_at = claim.withdrawn_at
    session.flush()
    audit.record(
        session,
        actor,
        "withdraw",
        "claim",
        claim.id,
        {"reason": reason},
        violation_id=claim.violation_id,
    )
    return claim
