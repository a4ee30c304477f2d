"""Export formats: each turns batches of violation rows into chunks of UTF-8 text."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from ...text import formula_safe
from ..violations.present import summary_view

# Flattened columns of CSV and HXL: (header, HXL hashtag, record key, kind). Records are
# core.query.export_batches dicts; on PostgreSQL the database formats the same cells itself
# (core.query.copy_csv), by kind. Lists are joined with ";"; times are ISO 8601 UTC as in the
# JSON; booleans true/false; numbers as in JSON (36.0 as 36); None an empty cell. Text and
# lists are formula-safe (see formula_safe); numbers (kind None or float) are written as they are.
_FIGURES = ("low", "best", "high")
_HXL_FIGURE = {"low": "+min", "best": "", "high": "+max"}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _text(value: str | None) -> str | None:
    return formula_safe(value)


def _joined(values) -> str:
    return formula_safe(";".join(values or []))


def _bool(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


def _number(value: float | None) -> str | None:
    if value is None:
        return None
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


CONVERT = {"text": _text, "time": _iso, "list": _joined, "bool": _bool, "float": _number}

COLUMNS: list[tuple[str, str, str, str | None]] = [
    ("id", "#event+id", "id", "text"),
    ("title", "#event+name", "title", "text"),
    ("description", "#description", "description", "text"),
    ("category", "#event+type", "category", "text"),
    ("status", "#status", "status", "text"),
    ("occurred_at", "#date+occurred", "occurred_at", "time"),
    ("occurred_until", "#date+occurred+end", "occurred_until", "time"),
    ("date_precision", "#date+precision", "date_precision", "text"),
    ("location_name", "#loc+name", "location_name", "text"),
    ("admin1", "#adm1+name", "admin1", "text"),
    ("admin2", "#adm2+name", "admin2", "text"),
    ("country", "#country+code", "country", "text"),
    ("lat", "#geo+lat", "lat", "float"),
    ("lon", "#geo+lon", "lon", "float"),
    ("location_precision", "#geo+precision", "location_precision", "text"),
    ("agreement", "#meta+agreement", "agreement_id", "text"),
    ("provisions", "#meta+provisions", "provisions", "list"),
    ("attributed_party", "#group+perpetrator", "attributed_party_id", "text"),
    ("affected_parties", "#group+affected", "affected_ids", "list"),
    *[
        (f"{group}_{figure}", f"#affected+{hxl}{_HXL_FIGURE[figure]}", f"{group}_{figure}", None)
        for group, hxl in (
            ("killed", "killed"),
            ("injured", "injured"),
            ("civilian_killed", "killed+civilians"),
            ("civilian_injured", "injured+civilians"),
        )
        for figure in _FIGURES
    ],
    ("tags", "#meta+tags", "tags", "list"),
    ("in_agreement_zone", "#geo+in_zone", "in_agreement_zone", "bool"),
    ("claim_count", "#meta+claims+num", "claim_count", None),
    ("reported_by", "#org+reporting", "reported_by", "text"),
    ("created_at", "#date+reported", "created_at", "time"),
    ("updated_at", "#date+updated", "updated_at", "time"),
    ("version", "#meta+version", "version", None),
]
# (record key, kind) of each column, for the database to format them alike.
CELLS = [(key, kind) for _name, _tag, key, kind in COLUMNS]

# Chunks of about this many characters: few enough writes, little memory.
_CHUNK = 64 * 1024


class _Record(dict):
    """Lets summary_view read an export record as it reads a Violation."""

    __slots__ = ()

    def __getattr__(self, name):
        return self[name]


class _Affected:
    __slots__ = ("party_id",)

    def __init__(self, party_id: str):
        self.party_id = party_id


def summary(record: dict[str, Any]) -> dict[str, Any]:
    """A list item exactly as GET /v1/violations answers it."""
    view = _Record(record)
    view["affected"] = [_Affected(pid) for pid in record["affected_ids"]]
    item = summary_view(view)
    for key in ("occurred_at", "occurred_until", "created_at", "updated_at"):
        item[key] = _iso(item[key])
    return item


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def csv_head(hxl: bool) -> str:
    """The header line, and for HXL the hashtag line under it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([column[0] for column in COLUMNS])
    if hxl:
        writer.writerow([column[1] for column in COLUMNS])
    return buffer.getvalue()


def csv_records(batches: Iterable[list[dict[str, Any]]], hxl: bool) -> Iterator[str]:
    """CSV (or HXL) of export_batches records. Lines end in LF, as PostgreSQL's COPY writes
    them (core.query.copy_csv), so both backends answer the same bytes."""
    buffer = io.StringIO()
    buffer.write(csv_head(hxl))
    writer = csv.writer(buffer, lineterminator="\n")
    cells = [(key, CONVERT.get(kind)) for key, kind in CELLS]
    for batch in batches:
        for record in batch:
            writer.writerow([conv(record[k]) if conv else record[k] for k, conv in cells])
            if buffer.tell() >= _CHUNK:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def feature(record: dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON Point feature ([lon, lat]; null geometry without coordinates)."""
    lat, lon = record["lat"], record["lon"]
    has_point = lat is not None and lon is not None
    return {
        "type": "Feature",
        "id": record["id"],
        "geometry": {"type": "Point", "coordinates": [lon, lat]} if has_point else None,
        "properties": summary(record),
    }


def json_texts(batches: Iterable[list[dict[str, Any]]], what: str) -> Iterator[list[str]]:
    """Each record as JSON text: a list item (`summary`) or a GeoJSON `feature`. On PostgreSQL
    the database writes the same texts itself (core.query.json_batches)."""
    make = summary if what == "summary" else feature
    for batch in batches:
        yield [_dumps(make(record)) for record in batch]


def ndjson(texts: Iterable[list[str]]) -> Iterator[str]:
    for batch in texts:
        yield "".join(text + "\n" for text in batch)


def geojson(texts: Iterable[list[str]]) -> Iterator[str]:
    yield '{"type":"FeatureCollection","features":[\n'
    first = True
    for batch in texts:
        if batch:
            yield ("" if first else ",\n") + ",\n".join(batch)
            first = False
    yield "\n]}\n"


# format -> (media type, file suffix)
FORMATS: dict[str, tuple[str, str]] = {
    "csv": ("text/csv; charset=utf-8", ".csv"),
    "hxl": ("text/csv; charset=utf-8", "-hxl.csv"),
    "geojson": ("application/geo+json", ".geojson"),
    "ndjson": ("application/x-ndjson", ".ndjson"),
}
