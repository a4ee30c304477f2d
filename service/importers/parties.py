"""Parties of an import: actor names onto party ids, created when new."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import parties
from ..core.actors import Principal
from ..models import Party
from ..text import fold
from .fields import ImportRejected, clip

# --- parties: actor names onto party ids, created when new ----------------------------------


def guess_kind(name: str) -> str:

    folded = fold(name)
    if folded.startswith(("military forces of", "police forces of", "armed forces of")):
        return "armed_force"
    if folded.startswith("government of"):
        return "state"
    if folded.startswith("civilians"):
        return "civilians"
    if folded.startswith(("protesters", "rioters")):
        return "other"
    return "armed_group"


class PartyResolver:
    """Actor names -> party ids: an existing party whose name or alias folds alike, else a new
    one (slug of the name) created on first use."""

    def __init__(self, session: Session):

        self.by_name: dict[str, str] = {}
        self.ids: set[str] = set()
        rows = session.execute(select(Party.id, Party.search_text).order_by(Party.id))
        for pid, search_text in rows:
            self.ids.add(pid)
            for folded in (search_text or "").strip("|").split("|"):
                if folded:
                    self.by_name.setdefault(folded, pid)
        self.pending: dict[str, dict[str, Any]] = {}

    def resolve(self, name: str) -> str:

        folded = fold(name)
        if not folded:
            raise ImportRejected(f"actor name '{name}' has no letters or digits")
        if folded in self.by_name:
            return self.by_name[folded]
        base = folded.replace(" ", "-")[:60].strip("-")
        slug, n = base, 1
        while slug in self.ids:
            n += 1
            slug = f"{base}-{n}"
        self.ids.add(slug)
        self.by_name[folded] = slug
        self.pending[slug] = {"id": slug, "name": clip(name, 200), "kind": guess_kind(name)}
        return slug

    def create_pending(self, session: Session, actor: Principal, needed: set[str]) -> None:

        for slug in sorted(needed & set(self.pending)):
            parties.create(session, actor, self.pending.pop(slug))
