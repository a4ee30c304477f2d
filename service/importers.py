"""`flask --app service import --format acled|ucdp FILE.csv`: ACLED and UCDP GED exports."""

from __future__ import annotations

import calendar
import csv
import io
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import marshmallow as ma
import pycountry
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import db
from .core import batch, keys, parties
from .core.actors import Principal
from .errors import flatten_messages
from .models import Party, Violation
from .resources.violations.schemas import ViolationCreateSchema
from .text import fold

# Rows read, checked and written per transaction (one SAVEPOINT per chunk, see core.batch).
CHUNK_ROWS = 500


class ImportRejected(Exception):
    """A row that breaks the rules; the message says which and why."""


# --- shared field parsing -------------------------------------------------------------------


def _text(row: dict[str, str], name: str) -> str:
    return (row.get(name) or "").strip()


def _int(row: dict[str, str], name: str, *, required: bool = False) -> int | None:
    raw = _text(row, name)
    if raw == "":
        if required:
            raise ImportRejected(f"{name} is empty")
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ImportRejected(f"{name} '{raw}' is not a number") from None
    if not value.is_integer() or value < 0:
        raise ImportRejected(f"{name} '{raw}' is not a whole number of at least 0")
    return int(value)


def _code(row: dict[str, str], name: str, meanings: dict[int, Any]) -> Any:
    raw = _text(row, name)
    try:
        code = int(raw)
    except ValueError:
        code = None
    if code not in meanings:
        known = ", ".join(str(c) for c in meanings)
        raise ImportRejected(f"unknown {name} '{raw}' (the codebook has {known})")
    return meanings[code]


def _coordinates(row: dict[str, str]) -> tuple[float, float]:
    lat_raw, lon_raw = _text(row, "latitude"), _text(row, "longitude")
    try:
        lat, lon = float(lat_raw), float(lon_raw)
    except ValueError:
        raise ImportRejected(
            f"bad coordinates: latitude '{lat_raw}', longitude '{lon_raw}' are not numbers"
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ImportRejected(f"bad coordinates: latitude {lat}, longitude {lon} out of range")
    return lat, lon


_ACLED_DATE_FORMATS = ("%Y-%m-%d", "%d %B %Y", "%d-%B-%Y", "%d %b %Y", "%d-%b-%Y", "%d/%m/%Y")


def _date(raw: str, name: str, formats: tuple[str, ...] = ("%Y-%m-%d",)) -> date:
    raw = raw.strip()
    for fmt in formats:
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise ImportRejected(f"bad date: {name} '{raw}'")


def _start(day: date) -> str:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat()


def _end(day: date) -> str:
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC).isoformat()


_PARENTHESES = re.compile(r"\s*\([^)]*\)\s*")
# Names the datasets use that ISO 3166 does not (UCDP keeps former names in parentheses).
_COUNTRY_ALIASES = {
    "russia": "RU",
    "dr congo": "CD",
    "democratic republic of congo": "CD",
    "republic of congo": "CG",
    "ivory coast": "CI",
    "bosnia herzegovina": "BA",
    "turkey": "TR",
    "macedonia fyr": "MK",
    "palestine": "PS",
    "east timor": "TL",
    "cape verde": "CV",
}
_country_cache: dict[str, str | None] = {}


def country_code(name: str, iso_numeric: str = "") -> str | None:
    """ISO 3166-1 alpha-2 from an ISO numeric code or a country name; None when neither
    resolves (Kosovo, for one, has no ISO code)."""
    key = f"{iso_numeric}|{name}"
    if key in _country_cache:
        return _country_cache[key]
    code = None
    numeric = iso_numeric.strip()
    if numeric.isdigit() and int(numeric) > 0:
        found = pycountry.countries.get(numeric=f"{int(numeric):03d}")
        code = found.alpha_2 if found else None
    if code is None and name.strip():
        plain = _PARENTHESES.sub(" ", name).strip()
        code = _COUNTRY_ALIASES.get(fold(plain))
        if code is None:
            try:
                code = pycountry.countries.lookup(plain).alpha_2
            except LookupError:
                code = None
    _country_cache[key] = code
    return code


def _timestamp(raw: str) -> str | None:
    """ACLED's `timestamp` (Unix seconds of the row's last change), when it is one."""
    try:
        return datetime.fromtimestamp(int(raw), tz=UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        return None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- what a row becomes ---------------------------------------------------------------------


@dataclass
class Event:
    """One dataset row, mapped: the violation body (API shape) without its parties and claim,
    the actors by name, and the claim and source that record where it came from."""

    row_id: str
    violation: dict[str, Any]
    attributed: str | None
    affected: list[str]
    statement: str
    asserts: dict[str, Any]
    made_at: str | None
    excerpt: str | None
    locator: str
    warnings: list[str] = field(default_factory=list)


@dataclass
class Dataset:
    name: str  # acled, ucdp
    label: str  # the publisher's name
    event_label: str  # how the publisher names one row: "ACLED event", "UCDP GED event"
    party: dict[str, Any]
    required: tuple[str, ...]
    id_column: str
    map_row: Callable[[dict[str, str]], Event]

    @property
    def org(self) -> str:
        return f"import-{self.name}"

    def ref(self, row_id: str) -> str:
        return f"{self.name}:{row_id}"

    def source(self, event: Event) -> dict[str, Any]:
        return {
            "kind": "dataset",
            "title": f"{self.event_label} {event.row_id}",
            "publisher": self.label,
            "language": "en",
        }


# ACLED sub-event types (codebook 2023) onto the ledger's categories; else by event type.
ACLED_SUB_EVENT_CATEGORY = {
    "shelling/artillery/missile attack": "shelling",
    "air/drone strike": "airstrike",
    "armed clash": "ground_assault",
    "government regains territory": "ground_assault",
    "non-state actor overtakes territory": "ground_assault",
    "headquarters or base established": "troop_movement",
    "non-violent transfer of territory": "troop_movement",
}
ACLED_EVENT_CATEGORY = {"battles": "ground_assault"}
ACLED_TIME_PRECISION = {1: "day", 2: "week", 3: "month"}
ACLED_GEO_PRECISION = {1: "exact", 2: "near", 3: "admin2"}
# ACLED: "Actor 1 and Actor 2 do not imply directionality" except where the event type is
# one-sided by definition; only there is actor1 the alleged perpetrator.
ACLED_ONE_SIDED = {"violence against civilians", "explosions/remote violence"}


def _acled_category(event_type: str, sub_event_type: str, notes: str) -> str:
    sub = sub_event_type.lower()
    category = ACLED_SUB_EVENT_CATEGORY.get(sub) or ACLED_EVENT_CATEGORY.get(
        event_type.lower(), "other"
    )
    # ACLED codes air and drone strikes alike; the notes tell them apart when they say so.
    if category == "airstrike" and re.search(r"\b(drone|uav)s?\b", notes, re.IGNORECASE):
        return "drone_strike"
    return category


def _unidentified(name: str) -> bool:
    return name.lower().startswith("unidentified")


def map_acled(row: dict[str, str]) -> Event:
    eid = _text(row, "event_id_cnty")
    day = _date(_text(row, "event_date"), "event_date", _ACLED_DATE_FORMATS)
    year = _text(row, "year")
    if year and year != str(day.year):
        raise ImportRejected(f"bad date: year {year} does not match event_date {day}")
    precision = _code(row, "time_precision", ACLED_TIME_PRECISION)
    if precision == "day":
        start, end = day, day
    elif precision == "week":
        # The date recorded is the middle of the week the source names.
        start, end = day - timedelta(days=3), day + timedelta(days=3)
    else:
        # Only the month is known; ACLED records its middle.
        start = day.replace(day=1)
        end = day.replace(day=calendar.monthrange(day.year, day.month)[1])
    lat, lon = _coordinates(row)
    geo = _code(row, "geo_precision", ACLED_GEO_PRECISION)
    fatalities = _int(row, "fatalities")
    event_type, sub_event_type = _text(row, "event_type"), _text(row, "sub_event_type")
    notes = _text(row, "notes")
    category = _acled_category(event_type, sub_event_type, notes)
    place = _text(row, "location")
    country = country_code(_text(row, "country"), _text(row, "iso"))
    actor1, actor2 = _text(row, "actor1"), _text(row, "actor2")
    one_sided = event_type.lower() in ACLED_ONE_SIDED
    attributed = actor1 if one_sided and actor1 and not _unidentified(actor1) else None
    affected = [a for a in ([actor2] if one_sided else [actor1, actor2]) if a]
    violation: dict[str, Any] = {
        "title": _clip(
            f"{sub_event_type or event_type or 'Event'} in {place or 'unknown place'}", 300
        ),
        "description": _clip(notes, 20000) or None,
        "category": category,
        "occurred_at": _start(start),
        "occurred_until": _end(end),
        "date_precision": precision,
        "location": {
            "name": _clip(place, 200) or None,
            "admin1": _clip(_text(row, "admin1"), 200) or None,
            "admin2": _clip(_text(row, "admin2"), 200) or None,
            "country": country,
            "lat": lat,
            "lon": lon,
            "precision": geo,
        },
        "tags": list(
            dict.fromkeys(_clip(t, 64) for t in ("acled", event_type, sub_event_type) if t)
        ),
    }
    asserts: dict[str, Any] = {"category": category}
    if fatalities is not None:
        violation["casualties"] = {"killed": {"best": fatalities}}
        asserts["killed"] = fatalities
    if place:
        asserts["location.name"] = _clip(place, 1000)
    made_at = _timestamp(_text(row, "timestamp"))
    cited = _text(row, "source")
    scale = _text(row, "source_scale")
    excerpt = None
    if cited:
        excerpt = f"Sources named by ACLED: {cited}" + (f" (scale: {scale})" if scale else "")
    event = Event(
        row_id=eid,
        violation=violation,
        attributed=attributed,
        affected=affected,
        statement=_clip(notes, 20000) or f"ACLED event {eid}",
        asserts=asserts,
        made_at=made_at,
        excerpt=_clip(excerpt, 5000) if excerpt else None,
        locator=f"event_id_cnty {eid}",
    )
    if country is None:
        event.warnings.append(f"country '{_text(row, 'country')}' has no ISO 3166-1 code")
    return event


# UCDP GED codebook: type_of_violence, date_prec, where_prec.
UCDP_VIOLENCE = {1: "state-based conflict", 2: "non-state conflict", 3: "one-sided violence"}
# Fighting between organised armed sides is a ground assault, as ACLED's armed clashes are;
# one-sided violence against civilians says nothing about the means, so it stays "other".
UCDP_CATEGORY = {1: "ground_assault", 2: "ground_assault", 3: "other"}
# 1 exact day; 2 a range of 2 to 6 days; 3 the week; 4 the month (8 to 30 days); 5 longer.
# The ledger's coarsest precision is a month: for 5, occurred_at..occurred_until keeps the span.
UCDP_DATE_PRECISION = {1: "day", 2: "week", 3: "week", 4: "month", 5: "month"}
# 1 exact; 2 within about 25 km; 3 admin2; 4 admin1; 5 a larger area or a linear feature
# (a road, a border); 6 the country; 7 international waters or airspace.
UCDP_WHERE_PRECISION = {
    1: "exact",
    2: "near",
    3: "admin2",
    4: "admin1",
    5: "country",
    6: "country",
    7: "country",
}


def _ucdp_date(row: dict[str, str], name: str) -> date:
    # GED CSVs write "2018-11-09" or "2018-11-09 00:00:00.000".
    return _date(_text(row, name)[:10], name)


def map_ucdp(row: dict[str, str]) -> Event:
    gid = _text(row, "id")
    violence = _code(row, "type_of_violence", {k: k for k in UCDP_VIOLENCE})
    start, end = _ucdp_date(row, "date_start"), _ucdp_date(row, "date_end")
    if end < start:
        raise ImportRejected(f"bad date: date_end {end} is before date_start {start}")
    precision = _code(row, "date_prec", UCDP_DATE_PRECISION)
    where = _code(row, "where_prec", UCDP_WHERE_PRECISION)
    lat, lon = _coordinates(row)
    low, best, high = _int(row, "low"), _int(row, "best", required=True), _int(row, "high")
    civilians = _int(row, "deaths_civilians")
    side_a, side_b = _text(row, "side_a"), _text(row, "side_b")
    one_sided = violence == 3
    attributed = side_a if one_sided and side_a else None
    affected = [s for s in ([side_b] if one_sided else [side_a, side_b]) if s]
    place = _text(row, "where_coordinates")
    headline = _text(row, "source_headline")
    country = country_code(_text(row, "country"))
    category = UCDP_CATEGORY[violence]
    killed = {k: v for k, v in (("low", low), ("best", best), ("high", high)) if v is not None}
    casualties: dict[str, Any] = {"killed": killed}
    asserts: dict[str, Any] = {"category": category, "killed": dict(killed)}
    if civilians is not None:
        casualties["civilian"] = {"killed": {"best": civilians}}
        asserts["civilian_killed"] = civilians
    if place:
        asserts["location.name"] = _clip(place, 1000)
    dyad = _text(row, "dyad_name") or " vs. ".join(s for s in (side_a, side_b) if s)
    violation: dict[str, Any] = {
        "title": _clip(
            f"{UCDP_VIOLENCE[violence].capitalize()}: {dyad} ({place or 'unknown place'})", 300
        ),
        "description": _clip(headline, 20000) or None,
        "category": category,
        "occurred_at": _start(start),
        "occurred_until": _end(end),
        "date_precision": precision,
        "location": {
            "name": _clip(place, 200) or None,
            "admin1": _clip(_text(row, "adm_1"), 200) or None,
            "admin2": _clip(_text(row, "adm_2"), 200) or None,
            "country": country,
            "lat": lat,
            "lon": lon,
            "precision": where,
        },
        "casualties": casualties,
        "tags": ["ucdp", UCDP_VIOLENCE[violence]],
    }
    cited = "; ".join(
        part for part in (_text(row, "source_original"), _text(row, "source_office")) if part
    )
    relid = _text(row, "relid")
    event = Event(
        row_id=gid,
        violation=violation,
        attributed=attributed,
        affected=affected,
        statement=_clip(headline, 20000) or f"UCDP GED event {gid}",
        asserts=asserts,
        made_at=None,
        excerpt=_clip(f"Original sources named by UCDP: {cited}", 5000) if cited else None,
        locator=f"id {gid}" + (f", relid {relid}" if relid else ""),
    )
    if country is None:
        event.warnings.append(f"country '{_text(row, 'country')}' has no ISO 3166-1 code")
    return event


DATASETS = {
    "acled": Dataset(
        name="acled",
        label="ACLED",
        event_label="ACLED event",
        party={
            "id": "acled",
            "name": "ACLED",
            "kind": "monitor",
            "aliases": ["Armed Conflict Location & Event Data Project"],
        },
        required=(
            "event_id_cnty",
            "event_date",
            "time_precision",
            "event_type",
            "sub_event_type",
            "actor1",
            "actor2",
            "country",
            "admin1",
            "location",
            "latitude",
            "longitude",
            "geo_precision",
            "source",
            "notes",
            "fatalities",
        ),
        id_column="event_id_cnty",
        map_row=map_acled,
    ),
    "ucdp": Dataset(
        name="ucdp",
        label="UCDP",
        event_label="UCDP GED event",
        party={
            "id": "ucdp",
            "name": "UCDP",
            "kind": "monitor",
            "aliases": ["Uppsala Conflict Data Program"],
        },
        required=(
            "id",
            "type_of_violence",
            "side_a",
            "side_b",
            "date_prec",
            "date_start",
            "date_end",
            "where_prec",
            "latitude",
            "longitude",
            "country",
            "best",
            "high",
            "low",
        ),
        id_column="id",
        map_row=map_ucdp,
    ),
}


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
        self.pending[slug] = {"id": slug, "name": _clip(name, 200), "kind": guess_kind(name)}
        return slug

    def create_pending(self, session: Session, actor: Principal, needed: set[str]) -> None:

        for slug in sorted(needed & set(self.pending)):
            parties.create(session, actor, self.pending.pop(slug))


# --- the import -----------------------------------------------------------------------------


@dataclass
class Report:
    rows: int = 0
    inserted: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, int, str, str]] = field(default_factory=list)
    warnings: list[tuple[int, int, str, str]] = field(default_factory=list)

    def reject(self, row: int, line: int, row_id: str, reason: str) -> None:
        self.rejected.append((row, line, row_id, reason))


def _records(handle: io.TextIOBase) -> Iterator[tuple[int, list[str]]]:
    """(line number where the record starts, fields), blank lines skipped; quoted fields may
    span lines, so the line is counted, not the record."""
    consumed = 0

    def lines():
        nonlocal consumed
        for line in handle:
            consumed += 1
            yield line

    source = lines()
    reader = csv.reader(source, delimiter=_delimiter(handle))
    while True:
        start = consumed + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        if fields:
            yield start, fields


def _delimiter(handle: io.TextIOBase) -> str:
    first = handle.readline()
    handle.seek(0)
    # Exports saved by spreadsheet programs in some locales use ";" (or tabs).
    if "," not in first:
        for candidate in (";", "\t"):
            if candidate in first:
                return candidate
    return ","


def run_import(dataset: Dataset, path: Path) -> Report:
    """Read, map, check and record every row of `path`, a chunk of rows per transaction.

    Raises click.ClickException when the file cannot be read or its header lacks a required
    column.
    """
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None
    report = Report()
    actor = Principal(org=dataset.org, role="admin", key_id=None)
    schema = ViolationCreateSchema()
    with handle:
        records = _records(handle)
        try:
            _line, header = next(records)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise click.ClickException(f"cannot read the header of {path}: {exc}") from None
        except StopIteration:
            raise click.ClickException(f"{path} is empty: it has no header row") from None
        header = [h.strip().lower() for h in header]
        missing = [c for c in dataset.required if c not in header]
        if missing:
            raise click.ClickException(
                f"{path} is not a {dataset.label} export: its header lacks " + ", ".join(missing)
            )
        with db.session_scope() as session:
            keys.ensure_org(session, None, dataset.org, f"{dataset.label} importer")
            resolver = PartyResolver(session)
            # The dataset itself is the claimant: an existing party of that name, else a new one.
            claimant = resolver.by_name.get(fold(dataset.party["name"]))
            if claimant is None:
                claimant = dataset.party["id"]
                if session.get(Party, claimant) is None:
                    parties.create(session, actor, dict(dataset.party))
                resolver.ids.add(claimant)
        seen: dict[str, int] = {}
        chunk: list[tuple[int, int, dict[str, str]]] = []
        context = _Chunk(actor, dataset, claimant, schema, resolver, seen, report)
        try:
            for line, fields in records:
                report.rows += 1
                if len(fields) != len(header):
                    report.reject(
                        report.rows,
                        line,
                        "",
                        f"has {len(fields)} fields where the header has {len(header)}",
                    )
                    continue
                chunk.append((report.rows, line, dict(zip(header, fields, strict=True))))
                if len(chunk) >= CHUNK_ROWS:
                    with db.session_scope() as session:
                        context.run(session, chunk)
                    chunk = []
            if chunk:
                with db.session_scope() as session:
                    context.run(session, chunk)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise click.ClickException(
                f"{path} cannot be read past data row {report.rows}: {exc}; "
                f"the {report.inserted} rows inserted before it stay"
            ) from None
    return report


@dataclass
class _Chunk:
    actor: Principal
    dataset: Dataset
    claimant: str
    schema: ViolationCreateSchema
    resolver: PartyResolver
    seen: dict[str, int]
    report: Report

    def run(self, session: Session, chunk: list[tuple[int, int, dict[str, str]]]) -> None:
        """Map and check a chunk's rows, skip those already recorded, then record the rest
        through core.batch (the same service functions as POST /v1/violations/batch)."""
        dataset, report = self.dataset, self.report
        candidates: list[tuple[int, int, str, Event]] = []
        for row_no, line, row in chunk:
            row_id = _text(row, dataset.id_column)
            if not row_id:
                report.reject(row_no, line, "", f"{dataset.id_column} is empty")
                continue
            if row_id in self.seen:
                report.reject(row_no, line, row_id, f"repeats data row {self.seen[row_id]}")
                continue
            self.seen[row_id] = row_no
            try:
                event = dataset.map_row(row)
            except ImportRejected as exc:
                report.reject(row_no, line, row_id, str(exc))
                continue
            except (ValueError, OverflowError) as exc:  # e.g. a date at the end of the calendar
                report.reject(row_no, line, row_id, f"cannot be mapped: {exc}")
                continue
            candidates.append((row_no, line, dataset.ref(row_id), event))
        refs = [ref for _r, _l, ref, _e in candidates]
        existing: set[str] = set()
        if refs:
            stmt = select(Violation.external_ref).where(Violation.external_ref.in_(refs))
            existing = set(session.execute(stmt).scalars())
        items: list[tuple[int, dict[str, Any]]] = []
        where: dict[int, tuple[int, str]] = {}
        needed: set[str] = set()
        for row_no, line, ref, event in candidates:
            if ref in existing:
                report.unchanged += 1
                continue
            try:
                body = _body(dataset, event, self.resolver, self.claimant)
                data = self.schema.load(body)
            except ImportRejected as exc:
                report.reject(row_no, line, event.row_id, str(exc))
                continue
            except ma.ValidationError as exc:
                errors = flatten_messages(exc.messages)
                # The claim restates the row's figures: name each broken figure once, as the
                # violation's field, rather than again as the claim's.
                own = [e for e in errors if not e["field"].startswith("claims.")]
                report.reject(row_no, line, event.row_id, _reasons(own or errors))
                continue
            # Not part of the public body: the natural keys that make a re-import change nothing.
            data["external_ref"] = ref
            data["claims"][0]["sources"][0]["source"]["external_ref"] = ref
            for warning in event.warnings:
                report.warnings.append((row_no, line, event.row_id, warning))
            needed.update(body["affected_parties"])
            if body.get("attributed_party"):
                needed.add(body["attributed_party"])
            where[row_no] = (line, event.row_id)
            items.append((row_no, data))
        if not items:
            return
        self.resolver.create_pending(session, self.actor, needed)
        for result in batch.create_violations(session, self.actor, items):
            if result.error is None:
                report.inserted += 1
            else:
                line, row_id = where[result.index]
                reason = _reasons(result.error.errors or []) or result.error.detail
                report.reject(result.index, line, row_id, reason)


def _reasons(errors: list[dict[str, str]]) -> str:
    return "; ".join(f"{e['field']}: {e['reason']}" for e in errors)


def _body(dataset: Dataset, event: Event, resolver: PartyResolver, claimant: str) -> dict:
    body = dict(event.violation)
    attributed = resolver.resolve(event.attributed) if event.attributed else None
    affected = list(dict.fromkeys(resolver.resolve(name) for name in event.affected))
    if attributed:
        body["attributed_party"] = attributed
    body["affected_parties"] = [p for p in affected if p != attributed]
    asserts = dict(event.asserts)
    if attributed:
        asserts["attributed_party"] = attributed
    claim: dict[str, Any] = {
        "claimant": claimant,
        "stance": "alleges",
        "statement": event.statement,
        "language": "en",
        "asserts": asserts,
        "sources": [
            {
                "source": dataset.source(event),
                "excerpt": event.excerpt,
                "locator": event.locator,
            }
        ],
    }
    if event.made_at:
        claim["made_at"] = event.made_at
    body["claims"] = [claim]
    return body


def register(app: Flask) -> None:
    @app.cli.command("import")
    @click.option(
        "--format",
        "fmt",
        required=True,
        type=click.Choice(sorted(DATASETS)),
        help="acled: an ACLED export; ucdp: a UCDP GED export.",
    )
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    def import_command(fmt: str, file: Path):
        """Import an ACLED or UCDP GED CSV export; importing the same file again changes nothing.

        Rows that break the rules are reported on stderr (data row, counted from 1 after the
        header, and the file line where the row starts) and the others go in. Exits 0 when the
        file was processed, even with rejected rows; 1 when it cannot be read or its header
        lacks a required column.
        """
        dataset = DATASETS[fmt]

        def echo(message: str) -> None:
            click.echo(message, err=True)

        report = run_import(dataset, file)
        for row_no, line, row_id, reason in sorted(report.warnings):
            echo(f"warning: data row {row_no} (line {line}) {row_id}: {reason}")
        for row_no, line, row_id, reason in sorted(report.rejected):
            ident = f" {row_id}" if row_id else ""
            echo(f"rejected: data row {row_no} (line {line}){ident}: {reason}")
        echo(
            f"{dataset.label} import of {file.name}: {report.rows} data rows, "
            f"{report.inserted} inserted, {report.unchanged} unchanged, "
            f"{len(report.rejected)} rejected"
        )
        sys.stderr.flush()
