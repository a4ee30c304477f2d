"""A violation as answered: the record, its derived facts, its claims."""

from __future__ import annotations

from typing import Any

from ...auth import Principal
from ...core import claims as claims_core
from ...core import status
from ...core import violations as core
from ...models import Violation
from ..claims.present import claim_view


def _figure(v: Violation, prefix: str) -> dict[str, int] | None:
    out = {f: getattr(v, f"{prefix}_{f}") for f in ("low", "best", "high")}
    out = {k: x for k, x in out.items() if x is not None}
    return out or None


def summary_view(v: Violation) -> dict[str, Any]:
    location = {key: getattr(v, column) for key, column in core.LOCATION_COLUMNS.items()}
    casualties: dict[str, Any] = {}
    for group in ("killed", "injured"):
        if (fig := _figure(v, group)) is not None:
            casualties[group] = fig
    civilian = {
        g: fig for g in ("killed", "injured") if (fig := _figure(v, f"civilian_{g}")) is not None
    }
    if civilian:
        casualties["civilian"] = civilian
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
