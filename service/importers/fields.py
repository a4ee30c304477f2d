"""Reading dataset rows: the fields of a CSV row, and the event a row becomes."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pycountry

from ..text import fold


class ImportRejected(Exception):
    """A row that breaks the rules; the message says which and why."""


# --- shared field parsing -------------------------------------------------------------------


def cell(row: dict[str, str], name: str) -> str:
    return (row.get(name) or "").strip()


def cell_int(row: dict[str, str], name: str, *, required: bool = False) -> int | None:
    raw = cell(row, name)
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


def cell_code(row: dict[str, str], name: str, meanings: dict[int, Any]) -> Any:
    raw = cell(row, name)
    try:
        code = int(raw)
    except ValueError:
        code = None
    if code not in meanings:
        known = ", ".join(str(c) for c in meanings)
        raise ImportRejected(f"unknown {name} '{raw}' (the codebook has {known})")
    return meanings[code]


def coordinates(row: dict[str, str]) -> tuple[float, float]:
    lat_raw, lon_raw = cell(row, "latitude"), cell(row, "longitude")
    try:
        lat, lon = float(lat_raw), float(lon_raw)
    except ValueError:
        raise ImportRejected(
            f"bad coordinates: latitude '{lat_raw}', longitude '{lon_raw}' are not numbers"
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ImportRejected(f"bad coordinates: latitude {lat}, longitude {lon} out of range")
    return lat, lon


ACLED_DATE_FORMATS = ("%Y-%m-%d", "%d %B %Y", "%d-%B-%Y", "%d %b %Y", "%d-%b-%Y", "%d/%m/%Y")


def parse_date(raw: str, name: str, formats: tuple[str, ...] = ("%Y-%m-%d",)) -> date:
    raw = raw.strip()
    for fmt in formats:
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise ImportRejected(f"bad date: {name} '{raw}'")


def day_start(day: date) -> str:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat()


def day_end(day: date) -> str:
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


def timestamp_of(raw: str) -> str | None:
    """ACLED's `timestamp` (Unix seconds of the row's last change), when it is one."""
    try:
        return datetime.fromtimestamp(int(raw), tz=UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        return None


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def violation_body(
    *,
    title: str,
    description: str,
    category: str,
    start: date,
    end: date,
    precision: str,
    place: str,
    admin1: str,
    admin2: str,
    country: str | None,
    lat: float,
    lon: float,
    where: str,
    tags: list[str],
) -> dict[str, Any]:
    """A row's violation in the API's shape (without parties, casualties and claims), each
    text clipped to what its field takes."""
    return {
        "title": clip(title, 300),
        "description": clip(description, 20000) or None,
        "category": category,
        "occurred_at": day_start(start),
        "occurred_until": day_end(end),
        "date_precision": precision,
        "location": {
            "name": clip(place, 200) or None,
            "admin1": clip(admin1, 200) or None,
            "admin2": clip(admin2, 200) or None,
            "country": country,
            "lat": lat,
            "lon": lon,
            "precision": where,
        },
        "tags": list(dict.fromkeys(clip(t, 64) for t in tags if t)),
    }


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
