"""Helpers shared by the core services: ownership checks and change summaries."""

from __future__ import annotations

from typing import Any

from ..models import utcnow
from .actors import Principal
from .errors import Forbidden

# session.info flag: after the commit, leave no copy of overwritten values in the database's
# files where the database can see to it (service.db does, on SQLite).
SCRUB_AFTER_COMMIT = "ledger.scrub_after_commit"


def scrub_after_commit(session) -> None:
    """Ask that values this transaction destroys be scrubbed from the files after its commit."""
    session.info[SCRUB_AFTER_COMMIT] = True


def ensure_can_edit(actor: Principal, owner_org: str | None, what: str) -> None:
    if not actor.can_edit(owner_org):
        raise Forbidden(
            f"Only the organisation that created this {what}, or an admin, may edit it."
        )


def apply_changes(obj: Any, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Set attributes and return {field: {"from": old, "to": new}} for those that changed."""
    changed: dict[str, dict[str, Any]] = {}
    for field, value in data.items():
        old = getattr(obj, field)
        if old != value:
            changed[field] = {"from": old, "to": value}
            setattr(obj, field, value)
    if changed and hasattr(obj, "updated_at"):
        obj.updated_at = utcnow()
    return changed
