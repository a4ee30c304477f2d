"""A violation as answered: the record, its derived facts, its claims."""

from __future__ import annotations

from typing import Any

from ...core import claims as claims_core
from ...core import record, status
from ...core import violations as core
from ...core.actors import Principal
from ...models import Violation
from ..claims.present import claim_view


def _figure(v, prefix: str) -> dict[str, int] | None:
    """An estimate {low, best, high} from the columns `prefix`_low..., the absent left out."""
    out = {f: getattr(v, f"{prefix}_{f}") for f in record.FIGURES}
    out = {k: int(x) for k, x in out.items() if x is not None}
    return out or None


def _casualties(v) -> dict[str, Any]:
    """The casualty estimates of a violation (or a list row): absent groups left out."""
    casualties: dict[str, Any] = {}
    for group in ("killed", "injured"):
        if (fig := _figure(v, group)) is not None:
            casualties[group] = fig
    civilian = {
        g: fig for g in ("killed", "injured") if (fig := _figure(v, f"civilian_{g}")) is not None
    }
    if civilian:
        casualties["civilian"] = civilian
    return casualties


def summary_view(v: Violation) -> dict[str, Any]:
    location = {key: getattr(v, column) for key, column in record.LOCATION_COLUMNS.items()}
    casualties = _casualties(v)
    return {
        "id": v.id,
        "title": v.title,
        "description": v.description,
        "category": v.category,
        "occurred_at": v.occurred_at,
        "occurred_until": v.occurred_until,
        "date_precision": v.date_precision,
        "location": location if any(x is not None for x in location.values()) else None,
        "agreement": v.agreement_id,
        "provisions": v.provisions or [],
        "attributed_party": v.attributed_party_id,
        "affected_parties": [a.party_id for a in v.affected],
        "casualties": casualties,
        "tags": v.tags or [],
        "status": v.status,
        "in_agreement_zone": v.in_agreement_zone,
        "claim_count": v.claim_count,
        "reported_by": v.reported_by,
        "created_at": v.created_at,
        "updated_at": v.updated_at,
        "version": v.version,
    }


def _texts(values) -> list[str | None]:
    return [None if x is None else str(x) for x in values] if values else []


def list_items(rows) -> list[dict[str, Any]]:
    """List items from core.query.list_page rows: exactly what ViolationSummarySchema dumps of
    summary_view (the same keys in the schema's order, the same types, nulls and absent
    figures), built straight from the row. Marshmallow's generic dump took as long as the
    query itself. On PostgreSQL the database writes the same text (core.query.list_page_json)
    and this serves the rows it leaves to Python; tests/test_list_items.py holds all three to
    the same bytes."""
    items = []
    for r in rows:
        if all(getattr(r, column) is None for column in record.LOCATION_COLUMNS.values()):
            location = None
        else:
            location = {
                "name": r.location_name,
                "admin1": r.admin1,
                "admin2": r.admin2,
                "country": r.country,
                "lat": None if r.lat is None else float(r.lat),
                "lon": None if r.lon is None else float(r.lon),
                "precision": r.location_precision,
            }
        casualties = _casualties(r)
        items.append(
            {
                "title": r.title,
                "description": r.description,
                "category": r.category,
                "occurred_at": r.occurred_at.isoformat(),
                "occurred_until": None
                if r.occurred_until is None
                else r.occurred_until.isoformat(),
                "date_precision": r.date_precision,
                "location": location,
                "agreement": r.agreement_id,
                "provisions": _texts(r.provisions),
                "attributed_party": r.attributed_party_id,
                "affected_parties": _texts(r.affected_ids),
                "casualties": casualties,
                "tags": _texts(r.tags),
                "id": r.id,
                "status": r.status,
                "in_agreement_zone": r.in_agreement_zone,
                "claim_count": None if r.claim_count is None else int(r.claim_count),
                "reported_by": r.reported_by,
                "created_at": r.created_at.isoformat(),
                "updated_at": r.updated_at.isoformat(),
                "version": None if r.version is None else int(r.version),
            }
        )
    return items


def violation_view(
    session, v: Violation, viewer: Principal | None, *, claims=None, status_changes=None
) -> dict[str, Any]:
    """claims / status_changes: given when the caller has them (a violation just created),
    else read."""
    rows = claims if claims is not None else claims_core.for_violation(session, v.id)
    if status_changes is None:
        status_changes = core.status_history(session, v.id)
    out = summary_view(v)
    out["status_history"] = [
        {
            "from": c.from_status,
            "to": c.to_status,
            "by": c.by_org,
            "at": c.at,
            "reason": c.reason,
            "verdict": c.verdict,
        }
        for c in status_changes
    ]
    out["contested_facts"] = status.contested_facts(rows)
    out["claimed_casualties"] = status.claimed_casualties(rows)
    out["claims"] = [claim_view(c, viewer) for c in rows]
    return out
