"""The disputed-fact status, contested facts and the casualty range, derived from live claims."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..models import Claim, Violation
from ..text import fold

SUPPORTING = {"alleges", "corroborates"}
CONTESTING = {"denies", "disputes", "explains"}
FIGURE_FACTS = ("killed", "injured", "civilian_killed", "civilian_injured")


def live(claims: Iterable[Claim]) -> list[Claim]:
    return [c for c in claims if c.withdrawn_at is None]


def publishers(claim: Claim) -> set[str]:
    """Who stands behind a supporting claim: its sources' publishers, else its claimant."""
    found: set[str] = set()
    for link in claim.sources:
        src = link.source
        found.add("publisher:" + fold(src.publisher) if src.publisher else "source:" + src.id)
    if not found:
        found.add("party:" + claim.claimant_id)
    return found


def derive(violation: Violation, claims: Iterable[Claim]) -> tuple[str, str]:
    """(status, why) while no verdict stands, exactly as the product rules state."""
    current = live(claims)
    if violation.attributed_party_id:
        for c in current:
            if c.stance == "acknowledges" and c.claimant_id == violation.attributed_party_id:
                return "confirmed", f"{c.claimant_id} acknowledges (claim {c.id})"
    contesting = [c for c in current if c.stance in CONTESTING]
    if contesting:
        c = contesting[0]
        return "disputed", f"{c.claimant_id} {c.stance} (claim {c.id})"
    independent: set[str] = set()
    for c in current:
        if c.stance in SUPPORTING:
            independent |= publishers(c)
    if len(independent) >= 2:
        return "corroborated", f"supported by {len(independent)} independent publishers"
    return "reported", "no contesting claim and fewer than two independent publishers"


def _canonical(fact: str, value: Any) -> str:
    if fact in FIGURE_FACTS and isinstance(value, int | float):
        value = {"best": value}
    elif isinstance(value, str):
        value = fold(value) if fact != "occurred_at" else value
    return json.dumps(value, sort_keys=True)


def contested_facts(claims: Iterable[Claim]) -> list[dict[str, Any]]:
    """Each fact that two live claims assert differently, with the values side by side."""
    by_fact: dict[str, dict[str, dict[str, Any]]] = {}
    for c in live(claims):
        for fact, value in (c.asserts or {}).items():
            entry = by_fact.setdefault(fact, {}).setdefault(
                _canonical(fact, value), {"value": value, "claims": [], "claimants": []}
            )
            entry["claims"].append(c.id)
            if c.claimant_id not in entry["claimants"]:
                entry["claimants"].append(c.claimant_id)
    return [
        {"fact": fact, "values": list(values.values())}
        for fact, values in sorted(by_fact.items())
        if len(values) > 1
    ]


def claimed_casualties(claims: Iterable[Claim]) -> dict[str, dict[str, int]]:
    """The lowest and highest figure that any live claim gives, per casualty fact."""
    out: dict[str, dict[str, int]] = {}
    for c in live(claims):
        for fact in FIGURE_FACTS:
            value = (c.asserts or {}).get(fact)
            if value is None:
                continue
            numbers = [value] if isinstance(value, int | float) else list(value.values())
            numbers = [n for n in numbers if isinstance(n, int | float)]
            if not numbers:
                continue
            span = out.setdefault(fact, {"low": min(numbers), "high": max(numbers)})
            span["low"] = min(span["low"], *numbers)
            span["high"] = max(span["high"], *numbers)
    return out


def change_row(
    violation_id: str,
    from_status: str | None,
    to_status: str,
    actor,
    reason: str,
    *,
    verdict: str | None = None,
    at,
) -> dict[str, Any]:
    """The values of one status change (table status_changes), however it is written."""
    return {
        "violation_id": violation_id,
        "from_status": from_status,
        "to_status": to_status,
        "by_org": actor.org if actor else None,
        "reason": reason,
        "at": at,
        "verdict": verdict,
    }
