"""Who may see what: the one disclosure policy of the service.

A confidential source (a witness's testimony, say) keeps who and where to verifiers, admins
and the organisation that recorded it: its author, url, archive_url, each edition's url, and
the locator of every citation of it. Everyone else sees the record with those values withheld
and `redacted: true`.

Every exit that can carry those values goes through this module: the single views and lists of
sources and claims (embedded claims included), history, the change feed, replayed answers and
the audit log itself, which keeps them sealed (see seal below). No other code formats a source
or a citation for output. What a view shows unredacted of a confidential source is noted for
the request (disclosed_in_request), so that an erasure can find stored answers that showed it.

The audit log never holds these values in clear. `seal` replaces each of them, wherever it
occurs in an entry's `changes`, by `{"sealed": <commitment>}`, where the commitment is the
SHA-256 of a random salt and the value; the value and its salt live in `sealed_values`, keyed
by the commitment. The chain hashes the commitment, so an erasure that destroys the value and
its salt leaves every entry verifying. `reveal` gives the values back to those who may see
them and a `{"redacted": ...}` marker to everyone else.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import ClaimSource, SealedValue, Source
from .actors import Principal

# What a confidential source withholds: these fields, and the url of each of its editions.
SOURCE_IDENTIFYING = ("author", "url", "archive_url")
EDITION_IDENTIFYING = ("url",)
# What a citation of a confidential source withholds.
CITATION_IDENTIFYING = ("locator",)
# The names under which the audit log seals values, per kind of entry: a source's identifying
# fields (an edition's url is under "url" too), a citation's locator.
SEALED_NAMES = {
    "source": frozenset(SOURCE_IDENTIFYING + EDITION_IDENTIFYING),
    "claim": frozenset(CITATION_IDENTIFYING),
}
# Change-feed entries that only admins see: the existence and timing of an organisation, or of
# its keys, can itself be sensitive.
ADMIN_ONLY_ENTITIES = ("organisation", "api_key")

PUBLIC_SOURCE_FIELDS = (
    "id",
    "kind",
    "title",
    "publisher",
    "author",
    "url",
    "published_at",
    "retrieved_at",
    "archive_url",
    "sha256",
    "language",
    "reliability",
    "confidential",
    "editions",
    "created_at",
    "updated_at",
    "version",
)
# Ids of the confidential sources whose identity the answer being made shows (see
# begin_answer); a context variable, so that the policy needs nothing of the web framework.
_DISCLOSED: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar(
    "ledger_disclosed", default=None
)


def may_identify(viewer: Principal | None, *, confidential: bool, owner_org: str | None) -> bool:
    """Verifiers, admins and the recording organisation see who a confidential source is."""
    if not confidential:
        return True
    if viewer is None:
        return False
    return viewer.at_least("verifier") or (viewer.org is not None and viewer.org == owner_org)


def may_identify_source(viewer: Principal | None, source: Source) -> bool:
    return may_identify(viewer, confidential=source.confidential, owner_org=source.created_by_org)


def begin_answer() -> None:
    """A new request's answer is being made: nothing of it has been disclosed yet."""
    _DISCLOSED.set(set())


def _note_disclosed(source_id: str) -> None:
    disclosed = _DISCLOSED.get()
    if disclosed is not None:
        disclosed.add(source_id)


def disclosed_in_request() -> set[str]:
    """Ids of the confidential sources whose identifying values this answer shows."""
    return set(_DISCLOSED.get() or ())


def _shows(viewer: Principal | None, source: Source) -> bool:
    allowed = may_identify_source(viewer, source)
    if allowed and source.confidential:
        _note_disclosed(source.id)
    return allowed


def source_view(source: Source, viewer: Principal | None) -> dict[str, Any]:
    """A source as `viewer` may see it."""
    out = {f: getattr(source, f) for f in PUBLIC_SOURCE_FIELDS}
    out["editions"] = [dict(e) for e in (source.editions or [])]
    out["created_by"] = source.created_by_org
    out["erased"] = source.erased_at is not None
    out["erased_at"] = source.erased_at
    out["erased_by"] = source.erased_by
    out["erased_reason"] = source.erased_reason
    out["redacted"] = not _shows(viewer, source)
    if out["redacted"]:
        for name in SOURCE_IDENTIFYING:
            out[name] = None
        for edition in out["editions"]:
            for name in EDITION_IDENTIFYING:
                edition[name] = None
    return out


def citation_view(link: ClaimSource, viewer: Principal | None) -> dict[str, Any]:
    """One source a claim cites, as `viewer` may see it: a locator can name the place or the
    person of an interview, so it goes with the source's identity."""
    source = source_view(link.source, viewer)
    out = {"source_id": link.source_id, "excerpt": link.excerpt, "locator": link.locator}
    if source["redacted"]:
        for name in CITATION_IDENTIFYING:
            out[name] = None
    out["source"] = source
    return out


def hidden_feed_entities(viewer: Principal | None) -> tuple[str, ...] | None:
    """Entity kinds of change-feed entries that `viewer` may not see (None: all visible)."""
    if viewer is not None and viewer.at_least("admin"):
        return None
    return ADMIN_ONLY_ENTITIES


# --- The audit log: sealed values ----------------------------------------------------------

_MARK = "sealed"


def _iso(value: Any) -> Any:
    if hasattr(value, "isoformat"):  # datetime, date, time
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be written to the audit log")


# The canonical text of an audit value (sorted keys, compact, not ASCII-escaped, times in ISO
# 8601), by an encoder made once: json.dumps with any option set builds one at every call.
_ENCODER = json.JSONEncoder(
    default=_iso, sort_keys=True, separators=(",", ":"), ensure_ascii=False
)


def canonical(value: Any) -> str:
    """The canonical JSON text of a value of an audit entry (core.audit.Changes too)."""
    return _ENCODER.encode(value)


def commitment(salt: str, value_text: str) -> str:
    """SHA-256 over the salt (hex) and the value's canonical JSON text."""
    return hashlib.sha256(bytes.fromhex(salt) + value_text.encode("utf-8")).hexdigest()


def seal(entity: str, entity_id: str, changes: dict[str, Any]) -> tuple[dict[str, Any], list]:
    """`changes` with every value under a sealed name replaced by its commitment, and the
    rows of sealed_values that keep those values (as column dicts). `changes` itself is left
    as it is.

    Each sealed value
    names the source it identifies: a source entry's own id, or the `source_id` beside a
    citation's locator.
    """
    names = SEALED_NAMES.get(entity)
    if not names:
        return changes, []
    sealer = _Sealer(names, entity, entity_id)
    sealed = sealer.walk(changes, entity_id if entity == "source" else None)
    return sealed, sealer.rows


class _Sealer:
    """One entry's walk: values under a sealed name become commitments, the rest is copied."""

    __slots__ = ("names", "entity", "entity_id", "rows", "claims")

    def __init__(self, names: frozenset[str], entity: str, entity_id: str):
        self.names, self.entity, self.entity_id = names, entity, entity_id
        self.rows: list[dict[str, Any]] = []
        # In a claim's entry a locator identifies the source cited beside it.
        self.claims = entity == "claim"

    def leaf(self, value: Any, source_id: str | None) -> Any:
        if value is None or is_sealed(value):
            return value
        salt = secrets.token_hex(16)
        text = canonical(value)
        made = commitment(salt, text)
        self.rows.append(
            {
                "commitment": made,
                "salt": salt,
                "value": text,
                "source_id": source_id,
                "entity": self.entity,
                "entity_id": self.entity_id,
            }
        )
        return {_MARK: made}

    def under(self, value: Any, source_id: str | None) -> Any:
        # Below a sealed name: {"from", "to"} of an update, or lists of values.
        if type(value) is dict and not is_sealed(value):
            return {k: self.under(v, source_id) for k, v in value.items()}
        if type(value) is list:
            return [self.under(v, source_id) for v in value]
        return self.leaf(value, source_id)

    def walk(self, value: Any, source_id: str | None) -> Any:
        kind = type(value)
        if kind is dict:
            if self.claims and type(value.get("source_id")) is str:
                source_id = value["source_id"]
            names = self.names
            out = {}
            for k, v in value.items():
                if k in names:
                    out[k] = self.under(v, source_id)
                elif type(v) is dict or type(v) is list:
                    out[k] = self.walk(v, source_id)
                else:
                    out[k] = v
            return out
        if kind is list:
            return [
                self.walk(v, source_id) if type(v) is dict or type(v) is list else v
                for v in value
            ]
        return value


def is_sealed(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and isinstance(value.get(_MARK), str)
        and len(value[_MARK]) == 64
    )


def commitments_in(value: Any, into: set[str]) -> None:
    if is_sealed(value):
        into.add(value[_MARK])
    elif isinstance(value, dict):
        for v in value.values():
            commitments_in(v, into)
    elif isinstance(value, list):
        for v in value:
            commitments_in(v, into)


def reveal(
    session: Session, viewer: Principal | None, changes_list: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each entry's `changes` as `viewer` may see them: sealed values given back where the
    policy allows, `{"redacted": "confidential"}` elsewhere, `{"redacted": "erased"}` where an
    erasure destroyed them."""
    changes_list = list(changes_list)
    wanted: set[str] = set()
    for changes in changes_list:
        commitments_in(changes, wanted)
    if not wanted:
        return changes_list
    found = {
        row.commitment: row
        for chunk in _chunks(sorted(wanted))
        for row in session.execute(
            select(SealedValue).where(SealedValue.commitment.in_(chunk))
        ).scalars()
    }
    source_ids = {row.source_id for row in found.values() if row.source_id}
    sources = {
        s.id: s
        for chunk in _chunks(sorted(source_ids))
        for s in session.execute(select(Source).where(Source.id.in_(chunk))).scalars()
    }

    def shown(value: Any) -> Any:
        if is_sealed(value):
            row = found.get(value[_MARK])
            if row is None or row.value is None:
                return {"redacted": "erased"}
            source = sources.get(row.source_id) if row.source_id else None
            if source is not None and not _shows(viewer, source):
                return {"redacted": "confidential"}
            if source is None and not (viewer is not None and viewer.at_least("verifier")):
                # A value whose source is unknown is shown only to those who see every source.
                return {"redacted": "confidential"}
            return json.loads(row.value)
        if isinstance(value, dict):
            return {k: shown(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shown(v) for v in value]
        return value

    return [shown(changes) for changes in changes_list]


def _chunks(values: list[str], size: int = 500):
    for start in range(0, len(values), size):
        yield values[start : start + size]
