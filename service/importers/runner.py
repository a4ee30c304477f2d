"""The import: a file read, checked and written in chunks, and its report."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import marshmallow as ma
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import db
from ..core import batch, keys, parties
from ..core.actors import Principal
from ..errors import flatten_messages
from ..models import Party, Violation
from ..resources.violations.schemas import ViolationCreateSchema
from ..text import fold
from .acled import map_acled
from .fields import Dataset, Event, ImportRejected, cell
from .parties import PartyResolver
from .ucdp import map_ucdp

# Rows read, checked and written per transaction (one SAVEPOINT per chunk, see core.batch).
CHUNK_ROWS = 500

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
            row_id = cell(row, dataset.id_column)
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
