"""New violations written with one INSERT (or COPY) per table: single posts, batch, import.

Through the ORM, a new violation cost an object and often a flush at a time: a round trip per
row, and for a batch unit-of-work bookkeeping that grew with the session. Here the rows of one
violation or of a whole chunk (violations, affected parties, status changes, claims, inline
sources and their links, search documents, audit entries) are built as plain values and
written with one statement per table, then the audit head is moved once.

The caller has checked each item's references (violations.check_new). The audit entries go
with the rows, or are handed to the caller (a batch appends those of all its chunks at once,
see audit.append). A failure at the database raises, and the caller rolls back the SAVEPOINT
around the chunk.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    AffectedParty,
    Agreement,
    Claim,
    ClaimSource,
    Party,
    Source,
    StatusChange,
    Violation,
    ViolationSearch,
    new_uuid,
    utcnow,
)
from . import audit, record, search, status, zones
from . import rows as rows_
from .actors import Principal


@dataclass
class SourceRef:
    """What the status rules need of a cited source: its id and its publisher."""

    id: str
    publisher: str | None


@dataclass
class KnownRefs:
    """The referenced ids that exist, resolved once for a whole batch."""

    parties: set[str]
    # Cited sources by id, and inline sources that exist already by their external_ref.
    sources: dict[str, SourceRef]
    sources_by_ref: dict[str, SourceRef] = field(default_factory=dict)
    # The session's identity map holds objects weakly: without this reference the prefetched
    # agreements would be collected at once and every item would query its agreement again.
    agreements: list[Agreement] = field(default_factory=list)


def _chunks(ids: set[str]):
    ordered = sorted(ids)
    for start in range(0, len(ordered), _IN_CHUNK):
        yield ordered[start : start + _IN_CHUNK]


def _ids_in(session: Session, column, ids: set[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(ids):
        found.update(session.execute(select(column).where(column.in_(chunk))).scalars())
    return found


def _sources_by(session: Session, column, values: set[str]) -> dict[str, SourceRef]:
    found: dict[str, SourceRef] = {}
    for chunk in _chunks(values):
        stmt = select(column, Source.id, Source.publisher).where(column.in_(chunk))
        for key, sid, publisher in session.execute(stmt):
            found[key] = SourceRef(id=sid, publisher=publisher)
    return found


def prefetch(session: Session, items: Iterable[dict[str, Any]]) -> KnownRefs:
    """One query per kind of reference for the whole batch instead of several per item.

    Agreements are loaded whole into the session's identity map, where `session.get` finds
    them without a query; parties only need to be known to exist; sources, cited by id or
    inline with an external_ref that may exist already, with the publisher the status needs.
    """
    party_ids: set[str] = set()
    agreement_ids: set[str] = set()
    source_ids: set[str] = set()
    source_refs: set[str] = set()
    for data in items:
        if data.get("attributed_party"):
            party_ids.add(data["attributed_party"])
        party_ids.update(p for p in data.get("affected_parties") or [] if p)
        if data.get("agreement"):
            agreement_ids.add(data["agreement"])
        for claim in data.get("claims") or []:
            if claim.get("claimant"):
                party_ids.add(claim["claimant"])
            asserted = (claim.get("asserts") or {}).get("attributed_party")
            if isinstance(asserted, str):
                party_ids.add(asserted)
            for link in claim.get("sources") or []:
                if link.get("source_id"):
                    source_ids.add(link["source_id"])
                elif (link.get("source") or {}).get("external_ref"):
                    source_refs.add(link["source"]["external_ref"])
    agreements = (
        list(
            session.execute(
                select(Agreement).where(Agreement.id.in_(sorted(agreement_ids)))
            ).scalars()
        )
        if agreement_ids
        else []
    )
    return KnownRefs(
        agreements=agreements,
        parties=_ids_in(session, Party.id, party_ids) if party_ids else set(),
        sources=_sources_by(session, Source.id, source_ids) if source_ids else {},
        sources_by_ref=_sources_by(session, Source.external_ref, source_refs)
        if source_refs
        else {},
    )


@dataclass
class _Link:
    source: SourceRef


@dataclass
class _Claim:
    """A new claim as status.derive reads it (no withdrawn claims among new ones)."""

    id: str
    claimant_id: str
    stance: str
    sources: list[_Link]
    withdrawn_at: datetime | None = None


@dataclass
class _Violation:
    attributed_party_id: str | None


@dataclass
class Rows:
    """The rows of one chunk, a list per table, in the order they are inserted."""

    violations: list[dict[str, Any]] = field(default_factory=list)
    affected: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    status_changes: list[dict[str, Any]] = field(default_factory=list)
    searches: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)


class Record(SimpleNamespace):
    """A row just written, read like the mapped object it stands for (attributes)."""


# Columns a new row leaves unset (NULL), which the views read.
_VIOLATION_UNSET = {"verdict": None}
_CLAIM_UNSET = {"withdrawn_at": None, "withdrawn_reason": None, "withdrawn_by": None}


@dataclass
class Made:
    """A violation just written, with its claims and status history (see Writer.made)."""

    violation: Record
    claims: list[Record]
    status_changes: list[Record]

    @property
    def id(self) -> str:
        return self.violation.id


# Bound parameters per IN (...) query; SQLite allows 32,766 and PostgreSQL 65,535.
_IN_CHUNK = 5000


# Every column a new row of each table sets (for violations: record.FLAT_COLUMNS, read
# when used since that module imports this one); the rest take their defaults (or NULL).
_VIOLATION_DEFAULTS = {"date_precision": "exact", "provisions": list, "tags": list}
_SOURCE_COLUMNS = tuple(
    c.key
    for c in Source.__table__.columns
    if c.key not in {"id", "created_by_org", "created_at", "updated_at", "version"}
)
_SOURCE_DEFAULTS = {"confidential": False, "editions": list}


def _full(values: dict[str, Any], columns, defaults) -> dict[str, Any]:
    """Values for every one of `columns` (so that all rows of a table share their keys)."""
    out = {}
    for column in columns:
        if column in values:
            out[column] = values[column]
        else:
            default = defaults.get(column)
            out[column] = default() if callable(default) else default
    return out


class Writer:
    """Builds the rows of a chunk of new violations, then writes them (flush)."""

    def __init__(
        self,
        session: Session,
        actor: Principal,
        sources: dict[str, SourceRef] | None = None,
        sources_by_ref: dict[str, SourceRef] | None = None,
    ):
        """sources / sources_by_ref: what a batch resolved in advance (all cited ids, and every
        inline external_ref that exists). Without them each is looked up when first needed."""
        self.session = session
        self.actor = actor
        # Known sources by id and by external_ref; sources this writer creates join them, so a
        # later item citing the same new external_ref links to the same source.
        self.prefetched = sources is not None
        self.sources = sources if sources is not None else {}
        self.sources_by_ref = sources_by_ref if sources_by_ref is not None else {}
        self.rows = Rows()
        # Each agreement's zone, prepared once for all the points of the chunk.
        self.zones: dict[str, Any] = {}

    def add(self, data: dict[str, Any]) -> str:
        """Rows for one new violation whose references were checked; answers its id.

        An item that raises half-way leaves none of its rows behind in the chunk.
        """
        marks = {name: len(values) for name, values in vars(self.rows).items()}
        try:
            violation_id = self._add(data)
        except BaseException:
            # The sources it created are no longer there to cite.
            for row in self.rows.sources[marks["sources"] :]:
                self.sources.pop(row["id"], None)
                self.sources_by_ref.pop(row["external_ref"], None)
            for name, length in marks.items():
                del getattr(self.rows, name)[length:]
            raise
        self._last = marks
        return violation_id

    def add_claim(self, violation_id: str, seq: int, data: dict[str, Any]) -> str:
        """Rows for one new claim (and its inline sources) about a recorded violation whose
        references were checked; answers its id."""
        return self._claim(violation_id, seq, data).id

    def made(self) -> Made:
        """The last violation added, as records to answer with (call it before flush).

        Built from the values being written, so that the answer to a POST needs no reading
        back: plain records with the attributes of the mapped classes (the views read only
        attributes), cheaper to make than transient ORM objects.
        """
        rows = {name: values[self._last[name] :] for name, values in vars(self.rows).items()}
        [row] = rows["violations"]
        violation = Record(**{**_VIOLATION_UNSET, **row})
        violation.affected = [Record(**a) for a in rows["affected"]]
        new_sources = {r["id"]: Record(**r) for r in rows["sources"]}
        claims = []
        for claim_row in rows["claims"]:
            claim = Record(**{**_CLAIM_UNSET, **claim_row})
            claim.sources = [
                Record(
                    **link,
                    source=new_sources.get(link["source_id"])
                    or self.session.get(Source, link["source_id"]),
                )
                for link in rows["links"]
                if link["claim_id"] == claim.id
            ]
            claims.append(claim)
        changes = [Record(**change) for change in rows["status_changes"]]
        return Made(violation=violation, claims=claims, status_changes=changes)

    def _add(self, data: dict[str, Any]) -> str:
        actor = self.actor
        rows = self.rows
        now = utcnow()
        vid = new_uuid()
        values = record.flatten(data)
        row = _full(values, record.FLAT_COLUMNS, _VIOLATION_DEFAULTS)
        agreement = (
            self.session.get(Agreement, data["agreement"]) if data.get("agreement") else None
        )
        if agreement is not None and agreement.id not in self.zones:
            self.zones[agreement.id] = zones.prepared_zone(agreement)
        claims_data = data.get("claims") or []
        row.update(
            id=vid,
            created_at=now,
            updated_at=now,
            reported_by=actor.org,
            status="reported",
            claim_count=len(claims_data),
            in_agreement_zone=zones.zone_membership(
                agreement, row["lat"], row["lon"], zone=agreement and self.zones[agreement.id]
            ),
            version=1,
        )
        rows.violations.append(row)
        rows.affected.extend(
            {"violation_id": vid, "party_id": pid, "position": i}
            for i, pid in enumerate(data.get("affected_parties") or [])
        )
        summary = {k: v for k, v in data.items() if k != "claims"}
        rows.audit.append(
            audit.new_row(actor, "create", "violation", vid, {"fields": summary}, vid)
        )
        rows.status_changes.append(
            status.change_row(vid, None, "reported", actor, "recorded", at=now)
        )
        new_claims: list[_Claim] = []
        texts: list[tuple[str, list]] = []
        for seq, claim in enumerate(claims_data, start=1):
            new_claims.append(self._claim(vid, seq, claim))
            texts.append((claim["statement"], claim.get("translations", [])))
        if claims_data:
            row["updated_at"] = utcnow()
            new, why = status.derive(_Violation(row["attributed_party_id"]), new_claims)
            if new != "reported":
                at = utcnow()
                rows.status_changes.append(
                    status.change_row(vid, "reported", new, actor, why, at=at)
                )
                row["status"] = new
                row["updated_at"] = at
        rows.searches.append(
            {
                "violation_id": vid,
                "document": search.search_document(
                    row["title"], row["description"], search.claim_texts(texts)
                ),
            }
        )
        return vid

    def _source(self, inline: dict[str, Any]) -> SourceRef:
        ref = inline.get("external_ref")
        if ref and ref not in self.sources_by_ref and not self.prefetched:
            self._look_up(Source.external_ref, ref, self.sources_by_ref)
        if ref and ref in self.sources_by_ref:
            return self.sources_by_ref[ref]
        sid = new_uuid()
        now = utcnow()
        row = _full(inline, _SOURCE_COLUMNS, _SOURCE_DEFAULTS)
        row.update(id=sid, created_by_org=self.actor.org, created_at=now, updated_at=now, version=1)
        self.rows.sources.append(row)
        self.rows.audit.append(
            audit.new_row(self.actor, "create", "source", sid, {"fields": inline})
        )
        found = SourceRef(id=sid, publisher=inline.get("publisher"))
        self.sources[sid] = found
        if ref:
            self.sources_by_ref[ref] = found
        return found

    def _look_up(self, column, value: str, into: dict[str, SourceRef]) -> None:
        found = self.session.execute(
            select(Source.id, Source.publisher).where(column == value)
        ).first()
        if found is not None:
            into[value] = SourceRef(id=found.id, publisher=found.publisher)

    def _claim(self, vid: str, seq: int, data: dict[str, Any]) -> _Claim:
        cid = new_uuid()
        now = utcnow()
        links: list[_Link] = []
        cited: list[dict[str, Any]] = []
        for position, item in enumerate(data.get("sources", [])):
            if item.get("source") is not None:
                src = self._source(item["source"])
            else:
                sid = item["source_id"]
                if sid not in self.sources:
                    self._look_up(Source.id, sid, self.sources)
                src = self.sources[sid]
            links.append(_Link(src))
            link = {
                "claim_id": cid,
                "position": position,
                "source_id": src.id,
                "excerpt": item.get("excerpt"),
                "locator": item.get("locator"),
            }
            self.rows.links.append(link)
            cited.append({k: link[k] for k in ("source_id", "excerpt", "locator")})
        row = {
            "id": cid,
            "seq": seq,
            "violation_id": vid,
            "claimant_id": data["claimant"],
            "stance": data["stance"],
            "responds_to_id": data.get("responds_to"),
            "statement": data["statement"],
            "language": data.get("language"),
            "translations": data.get("translations", []),
            "made_at": data.get("made_at"),
            "asserts": data.get("asserts", {}),
            "credibility": data.get("credibility"),
            "created_by_org": self.actor.org,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        self.rows.claims.append(row)
        summary = {
            "claimant": row["claimant_id"],
            "stance": row["stance"],
            "responds_to": row["responds_to_id"],
            "statement": row["statement"],
            "language": row["language"],
            "translations": row["translations"],
            "made_at": row["made_at"],
            "asserts": row["asserts"],
            "credibility": row["credibility"],
            "sources": cited,
        }
        self.rows.audit.append(audit.new_row(self.actor, "create", "claim", cid, summary, vid))
        return _Claim(id=cid, claimant_id=row["claimant_id"], stance=row["stance"], sources=links)

    def flush(
        self, *, defer_audit: bool = False, audit_into: list[dict[str, Any]] | None = None
    ) -> None:
        """Write the rows built so far, one statement per table, and their audit entries.

        On PostgreSQL, tables with many rows are sent by COPY and the others in one pipeline
        (one round trip); elsewhere by INSERT ... executemany. Raises what the database raises
        (the caller's SAVEPOINT then undoes all of it).

        defer_audit: outside any SAVEPOINT, the audit entries wait for the commit point
        (audit.append), so that the chain head is locked for two round trips instead of for
        the rest of the request: concurrent creates then wait on each other only there.
        audit_into: the entries are not written but added to this list, for the caller to
        append once what they record is certain to stay (audit.append).
        """
        session = self.session
        rows, self.rows = self.rows, Rows()
        data = [
            (Violation.__table__, rows.violations),
            (AffectedParty.__table__, rows.affected),
            (Source.__table__, rows.sources),
            (Claim.__table__, rows.claims),
            (ClaimSource.__table__, rows.links),
            (StatusChange.__table__, rows.status_changes),
            (ViolationSearch.__table__, rows.searches),
        ]
        if audit_into is not None:
            rows_.write(session, data)
            audit_into.extend(rows.audit)
        elif defer_audit and audit.can_wait(session):
            rows_.write(session, data)
            audit.append(session, rows.audit)
        else:
            audit.write_pending(session, rows.audit, data)
