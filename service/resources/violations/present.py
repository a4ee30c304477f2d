"""A violation as answered: the record, its derived facts, its claims."""

from __future__ import annotations

from typing import Any

from ...auth import Principal
from ...core import claims as claims_core
from ...core import query, status
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


# core.query.LIST_COLUMNS, the order in which list_items unpacks a row.
_ROW = (
    "id",
    "title",
    "description",
    "category",
    "occurred_at",
    "occurred_until",
    "date_precision",
    "location_name",
    "admin1",
    "admin2",
    "country",
    "lat",
    "lon",
    "location_precision",
    "agreement_id",
    "provisions",
    "attributed_party_id",
    "killed_low",
    "killed_best",
    "killed_high",
    "injured_low",
    "injured_best",
    "injured_high",
    "civilian_killed_low",
    "civilian_killed_best",
    "civilian_killed_high",
    "civilian_injured_low",
    "civilian_injured_best",
    "civilian_injured_high",
    "tags",
    "status",
    "in_agreement_zone",
    "claim_count",
    "reported_by",
    "created_at",
    "updated_at",
    "version",
    "affected_ids",
)
if query.LIST_COLUMNS != _ROW:  # pragma: no cover (caught at import, by every test)
    raise RuntimeError("core.query.LIST_COLUMNS and present.list_items disagree")


def _fig(low, best, high) -> dict[str, int] | None:
    out = {}
    if low is not None:
        out["low"] = int(low)
    if best is not None:
        out["best"] = int(best)
    if high is not None:
        out["high"] = int(high)
    return out or None


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
    for (
        vid,
        title,
        description,
        category,
        occurred_at,
        occurred_until,
        date_precision,
        location_name,
        admin1,
        admin2,
        country,
        lat,
        lon,
        location_precision,
        agreement_id,
        provisions,
        attributed_party_id,
        killed_low,
        killed_best,
        killed_high,
        injured_low,
        injured_best,
        injured_high,
        civ_killed_low,
        civ_killed_best,
        civ_killed_high,
        civ_injured_low,
        civ_injured_best,
        civ_injured_high,
        tags,
        status_,
        in_agreement_zone,
        claim_count,
        reported_by,
        created_at,
        updated_at,
        version,
        affected_ids,
    ) in rows:
        if (
            location_name is None
            and admin1 is None
            and admin2 is None
            and country is None
            and lat is None
            and lon is None
            and location_precision is None
        ):
            location = None
        else:
            location = {
                "name": location_name,
                "admin1": admin1,
                "admin2": admin2,
                "country": country,
                "lat": None if lat is None else float(lat),
                "lon": None if lon is None else float(lon),
                "precision": location_precision,
            }
        casualties: dict[str, Any] = {}
        if (fig := _fig(killed_low, killed_best, killed_high)) is not None:
            casualties["killed"] = fig
        if (fig := _fig(injured_low, injured_best, injured_high)) is not None:
            casualties["injured"] = fig
        civ_killed = _fig(civ_killed_low, civ_killed_best, civ_killed_high)
        civ_injured = _fig(civ_injured_low, civ_injured_best, civ_injured_high)
        if civ_killed is not None or civ_injured is not None:
            civilian = {}
            if civ_killed is not None:
                civilian["killed"] = civ_killed
            if civ_injured is not None:
                civilian["injured"] = civ_injured
            casualties["civilian"] = civilian
        items.append(
            {
                "title": title,
                "description": description,
                "category": category,
                "occurred_at": occurred_at.isoformat(),
                "occurred_until": None if occurred_until is None else occurred_until.isoformat(),
                "date_precision": date_precision,
                "location": location,
                "agreement": agreement_id,
                "provisions": _texts(provisions),
                "attributed_party": attributed_party_id,
                "affected_parties": _texts(affected_ids),
                "casualties": casualties,
                "tags": _texts(tags),
                "id": vid,
                "status": status_,
                "in_agreement_zone": in_agreement_zone,
                "claim_count": None if claim_count is None else int(claim_count),
                "reported_by": reported_by,
                "created_at": created_at.isoformat(),
                "updated_at": updated_at.isoformat(),
                "version": None if version is None else int(version),
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
