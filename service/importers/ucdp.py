"""UCDP GED exports: a row of the codebook's layout onto an event."""

from __future__ import annotations

from datetime import date
from typing import Any

from .fields import (
    Event,
    ImportRejected,
    cell,
    cell_code,
    cell_int,
    clip,
    coordinates,
    country_code,
    parse_date,
    violation_body,
)

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
    return parse_date(cell(row, name)[:10], name)


def map_ucdp(row: dict[str, str]) -> Event:
    gid = cell(row, "id")
    violence = cell_code(row, "type_of_violence", {k: k for k in UCDP_VIOLENCE})
    start, end = _ucdp_date(row, "date_start"), _ucdp_date(row, "date_end")
    if end < start:
        raise ImportRejected(f"bad date: date_end {end} is before date_start {start}")
    precision = cell_code(row, "date_prec", UCDP_DATE_PRECISION)
    where = cell_code(row, "where_prec", UCDP_WHERE_PRECISION)
    lat, lon = coordinates(row)
    low, best, high = (
        cell_int(row, "low"),
        cell_int(row, "best", required=True),
        cell_int(row, "high"),
    )
    civilians = cell_int(row, "deaths_civilians")
    side_a, side_b = cell(row, "side_a"), cell(row, "side_b")
    one_sided = violence == 3
    attributed = side_a if one_sided and side_a else None
    affected = [s for s in ([side_b] if one_sided else [side_a, side_b]) if s]
    place = cell(row, "where_coordinates")
    headline = cell(row, "source_headline")
    country = country_code(cell(row, "country"))
    category = UCDP_CATEGORY[violence]
    killed = {k: v for k, v in (("low", low), ("best", best), ("high", high)) if v is not None}
    casualties: dict[str, Any] = {"killed": killed}
    asserts: dict[str, Any] = {"category": category, "killed": dict(killed)}
    if civilians is not None:
        casualties["civilian"] = {"killed": {"best": civilians}}
        asserts["civilian_killed"] = civilians
    if place:
        asserts["location.name"] = clip(place, 1000)
    dyad = cell(row, "dyad_name") or " vs. ".join(s for s in (side_a, side_b) if s)
    violation = violation_body(
        title=f"{UCDP_VIOLENCE[violence].capitalize()}: {dyad} ({place or 'unknown place'})",
        description=headline,
        category=category,
        start=start,
        end=end,
        precision=precision,
        place=place,
        admin1=cell(row, "adm_1"),
        admin2=cell(row, "adm_2"),
        country=country,
        lat=lat,
        lon=lon,
        where=where,
        tags=["ucdp", UCDP_VIOLENCE[violence]],
    )
    violation["casualties"] = casualties
    cited = "; ".join(
        part for part in (cell(row, "source_original"), cell(row, "source_office")) if part
    )
    relid = cell(row, "relid")
    event = Event(
        row_id=gid,
        violation=violation,
        attributed=attributed,
        affected=affected,
        statement=clip(headline, 20000) or f"UCDP GED event {gid}",
        asserts=asserts,
        made_at=None,
        excerpt=clip(f"Original sources named by UCDP: {cited}", 5000) if cited else None,
        locator=f"id {gid}" + (f", relid {relid}" if relid else ""),
    )
    if country is None:
        event.warnings.append(f"country '{cell(row, 'country')}' has no ISO 3166-1 code")
    return event
