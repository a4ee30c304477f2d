"""ACLED exports: a row of the codebook's layout onto an event."""

from __future__ import annotations

import calendar
import re
from datetime import timedelta
from typing import Any

from .fields import (
    ACLED_DATE_FORMATS,
    Event,
    ImportRejected,
    cell,
    cell_code,
    cell_int,
    clip,
    coordinates,
    country_code,
    parse_date,
    timestamp_of,
    violation_body,
)

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
    eid = cell(row, "event_id_cnty")
    day = parse_date(cell(row, "event_date"), "event_date", ACLED_DATE_FORMATS)
    year = cell(row, "year")
    if year and year != str(day.year):
        raise ImportRejected(f"bad date: year {year} does not match event_date {day}")
    precision = cell_code(row, "time_precision", ACLED_TIME_PRECISION)
    if precision == "day":
        start, end = day, day
    elif precision == "week":
        # The date recorded is the middle of the week the source names.
        start, end = day - timedelta(days=3), day + timedelta(days=3)
    else:
        # Only the month is known; ACLED records its middle.
        start = day.replace(day=1)
        end = day.replace(day=calendar.monthrange(day.year, day.month)[1])
    lat, lon = coordinates(row)
    geo = cell_code(row, "geo_precision", ACLED_GEO_PRECISION)
    fatalities = cell_int(row, "fatalities")
    event_type, sub_event_type = cell(row, "event_type"), cell(row, "sub_event_type")
    notes = cell(row, "notes")
    category = _acled_category(event_type, sub_event_type, notes)
    place = cell(row, "location")
    country = country_code(cell(row, "country"), cell(row, "iso"))
    actor1, actor2 = cell(row, "actor1"), cell(row, "actor2")
    one_sided = event_type.lower() in ACLED_ONE_SIDED
    attributed = actor1 if one_sided and actor1 and not _unidentified(actor1) else None
    affected = [a for a in ([actor2] if one_sided else [actor1, actor2]) if a]
    violation = violation_body(
        title=f"{sub_event_type or event_type or 'Event'} in {place or 'unknown place'}",
        description=notes,
        category=category,
        start=start,
        end=end,
        precision=precision,
        place=place,
        admin1=cell(row, "admin1"),
        admin2=cell(row, "admin2"),
        country=country,
        lat=lat,
        lon=lon,
        where=geo,
        tags=["acled", event_type, sub_event_type],
    )
    asserts: dict[str, Any] = {"category": category}
    if fatalities is not None:
        violation["casualties"] = {"killed": {"best": fatalities}}
        asserts["killed"] = fatalities
    if place:
        asserts["location.name"] = clip(place, 1000)
    made_at = timestamp_of(cell(row, "timestamp"))
    cited = cell(row, "source")
    scale = cell(row, "source_scale")
    excerpt = None
    if cited:
        excerpt = f"Sources named by ACLED: {cited}" + (f" (scale: {scale})" if scale else "")
    event = Event(
        row_id=eid,
        violation=violation,
        attributed=attributed,
        affected=affected,
        statement=clip(notes, 20000) or f"ACLED event {eid}",
        asserts=asserts,
        made_at=made_at,
        excerpt=clip(excerpt, 5000) if excerpt else None,
        locator=f"event_id_cnty {eid}",
    )
    if country is None:
        event.warnings.append(f"country '{cell(row, 'country')}' has no ISO 3166-1 code")
    return event
