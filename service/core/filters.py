"""The filters of violations, shared by the list, the export and the stats: WHERE clauses."""

from __future__ import annotations

from typing import Any

from rapidfuzz import process
from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from ..models import OCCURRED_END, AffectedParty, Agreement, Claim, Violation
from . import parties
from .search import matches, search_terms

EQUAL = {
    "attributed_party": Violation.attributed_party_id,
    "status": Violation.status,
    "category": Violation.category,
    "agreement": Violation.agreement_id,
    "country": Violation.country,
    "admin1": Violation.admin1,
}


def conditions(filters: dict[str, Any], dialect: str) -> list[ColumnElement[bool]]:
    """WHERE clauses for the filters present in `filters` (as the query schema loads them)."""
    out: list[ColumnElement[bool]] = []
    # Interval overlap: [occurred_at, occurred_until or occurred_at] meets [from, to].
    if filters.get("occurred_from") is not None:
        end = OCCURRED_END  # the indexed expression, ix_violations_occurred_end
        out.append(end >= filters["occurred_from"])
    if filters.get("occurred_to") is not None:
        out.append(Violation.occurred_at <= filters["occurred_to"])
    for name, col in EQUAL.items():
        if filters.get(name) is not None:
            out.append(col == filters[name])
    if filters.get("affected_party") is not None:
        out.append(
            exists().where(
                AffectedParty.violation_id == Violation.id,
                AffectedParty.party_id == filters["affected_party"],
            )
        )
    if filters.get("claimant") is not None:
        # Any claim by the party, withdrawn ones included: the claim was made.
        out.append(
            exists().where(
                Claim.violation_id == Violation.id, Claim.claimant_id == filters["claimant"]
            )
        )
    if filters.get("bbox") is not None:
        min_lon, min_lat, max_lon, max_lat = filters["bbox"]
        out.append(Violation.lat.between(min_lat, max_lat))
        out.append(Violation.lon.between(min_lon, max_lon))
    if "in_agreement_zone" in filters:
        # true / false, or null: not known (no zone, or no coordinates).
        inside = filters["in_agreement_zone"]
        out.append(
            Violation.in_agreement_zone.is_(None)
            if inside is None
            else Violation.in_agreement_zone == inside
        )
    if filters.get("updated_since") is not None:
        out.append(Violation.updated_at >= filters["updated_since"])
    if filters.get("q"):
        terms = search_terms(filters["q"])
        if terms:
            out.append(matches(dialect, terms))
    return out


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


# Filters that name a record: a typo would match nothing and answer an empty list as if no
# violation matched, where a write with the same typo is refused with the closest names.
PARTY_FILTERS = ("attributed_party", "affected_party", "claimant")


def unknown_references(session: Session, filters: dict[str, Any]) -> dict[str, str]:
    """{filter: reason} for the filters that name a party or agreement the ledger does not
    know, each reason with the closest known names."""
    errors = parties.check_exist(
        session, {name: filters[name] for name in PARTY_FILTERS if filters.get(name)}
    )
    agreement = filters.get("agreement")
    if agreement and session.get(Agreement, agreement) is None:
        known = session.execute(select(Agreement.id)).scalars().all()
        close = [match for match, _score, _ in process.extract(agreement, known, limit=3)]
        reason = f"unknown agreement '{agreement}'"
        errors["agreement"] = reason + ("; closest known: " + ", ".join(close) if close else "")
    return errors
