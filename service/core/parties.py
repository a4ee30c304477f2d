"""Parties: the actors who violate, are affected, or make claims."""

from __future__ import annotations

from typing import Any

from rapidfuzz import process
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Party
from ..text import fold, like_escape
from . import audit
from .actors import Principal
from .common import apply_changes, ensure_can_edit
from .errors import Conflict, NotFound, ValidationFailed


def _search_text(name: str, names: dict[str, str], aliases: list[str]) -> str:
    folded = {fold(n) for n in [name, *names.values(), *aliases] if n}
    folded.discard("")
    return "|" + "|".join(sorted(folded)) + "|"


def get(session: Session, party_id: str) -> Party:
    party = session.get(Party, party_id)
    if party is None:
        raise NotFound(f"No party with id '{party_id}'.")
    return party


def suggestions(session: Session, unknown: str, limit: int = 3) -> list[str]:
    """The closest known party ids, for an error message that helps the caller fix a typo."""
    choices: dict[str, str] = {}
    for pid, name, aliases in session.execute(select(Party.id, Party.name, Party.aliases)):
        for label in [pid, name, *(aliases or [])]:
            choices[fold(label)] = pid
    found: list[str] = []
    for _label, _score, _ in process.extract(fold(unknown), list(choices), limit=10):
        pid = choices[_label]
        if pid not in found:
            found.append(pid)
        if len(found) == limit:
            break
    return found


def check_exist(session: Session, refs: dict[str, str]) -> dict[str, str]:
    """{field: party_id} -> {field: reason} for those that are not known parties."""
    wanted = {pid for pid in refs.values() if pid}
    if not wanted:
        return {}
    known = set(session.execute(select(Party.id).where(Party.id.in_(wanted))).scalars())
    errors: dict[str, str] = {}
    for field, pid in refs.items():
        if pid and pid not in known:
            hint = suggestions(session, pid)
            reason = f"unknown party '{pid}'"
            if hint:
                reason += "; closest known: " + ", ".join(hint)
            errors[field] = reason
    return errors


def _validate_affiliations(session: Session, affiliations: list[dict[str, str]]) -> None:
    errors = check_exist(
        session, {f"affiliations.{i}.party": a["party"] for i, a in enumerate(affiliations)}
    )
    if errors:
        raise ValidationFailed(errors)


def create(session: Session, actor: Principal, data: dict[str, Any]) -> Party:
    if session.get(Party, data["id"]) is not None:
        raise Conflict(f"A party with id '{data['id']}' exists already.")
    _validate_affiliations(session, data.get("affiliations", []))
    party = Party(
        id=data["id"],
        name=data["name"],
        kind=data["kind"],
        names=data.get("names", {}),
        aliases=data.get("aliases", []),
        affiliations=data.get("affiliations", []),
        description=data.get("description"),
        created_by_org=actor.org,
    )
    party.search_text = _search_text(party.name, party.names, party.aliases)
    session.add(party)
    session.flush()
    audit.record(session, actor, "create", "party", party.id, {"fields": data})
    return party


def update(session: Session, actor: Principal, party: Party, data: dict[str, Any]) -> Party:
    ensure_can_edit(actor, party.created_by_org, "party")
    if "affiliations" in data:
        _validate_affiliations(session, data["affiliations"])
    changed = apply_changes(party, data)
    if changed:
        party.search_text = _search_text(party.name, party.names, party.aliases)
        session.flush()
        audit.record(session, actor, "update", "party", party.id, changed)
    return party


def list_(
    session: Session, *, q: str | None, kind: str | None, after: str | None, limit: int
) -> list[Party]:
    stmt = select(Party).order_by(Party.id).limit(limit)
    if q:
        folded = fold(q)
        if not folded:
            # Only punctuation or symbols: no name can match (it used to match every party).
            return []
        stmt = stmt.where(Party.search_text.like(f"%{like_escape(folded)}%", escape="\\"))
    if kind:
        stmt = stmt.where(Party.kind == kind)
    if after:
        stmt = stmt.where(Party.id > after)
    return list(session.execute(stmt).scalars())
