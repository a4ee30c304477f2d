"""Spreadsheet formula injection: a text cell that a spreadsheet would run as a formula leaves a
CSV or HXL export with a leading ' (OWASP's CSV injection guidance), on both databases; numbers
stay numbers, and the JSON formats keep the text as stored."""

from __future__ import annotations

import csv
import io
import json

import pytest

from service import db
from tests.query_fixtures import module_caller, word
from tests.scenario import violation_body

HYPERLINK = '=HYPERLINK("http://evil.example","click")'
CALC = "+cmd|' /C calc'!A0"
SUM = "@SUM(1+1)"
MINUS = "-2+3+cmd|' /C calc'!A0"
TABBED = "\t=1+1 after a tab"


@pytest.fixture(scope="module")
def hostile(app):
    """One violation whose every text field an attacker chose, and its search word."""
    caller = module_caller(app, "reporter")
    w = word()
    body = violation_body(
        title=HYPERLINK,
        description=f"{TABBED} {w}",
        location={
            "name": SUM,
            "admin1": MINUS,
            "admin2": CALC,
            "country": "SY",
            "lat": -33.5,
            "lon": -3.25,
            "precision": "exact",
        },
        tags=[f"-{w}", "@x"],
        casualties={"killed": {"low": 2, "best": 3}},
    )
    resp = caller.post("/v1/violations", json=body)
    assert resp.status_code == 201, resp.get_json()["errors"]
    return caller, w, resp.get_json()


def _rows(caller, fmt, w):
    resp = caller.get("/v1/violations/export", query_string={"format": fmt, "q": w})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    header = rows[0]
    data = rows[2:] if fmt == "hxl" else rows[1:]
    assert len(data) == 1, rows
    return dict(zip(header, data[0], strict=True))


@pytest.mark.parametrize("fmt", ["csv", "hxl"])
def test_text_cells_that_start_a_formula_are_quoted(hostile, fmt):
    caller, w, _created = hostile
    row = _rows(caller, fmt, w)
    assert row["title"] == "'" + HYPERLINK
    assert row["description"] == "'" + f"{TABBED} {w}"
    assert row["location_name"] == "'" + SUM
    assert row["admin1"] == "'" + MINUS
    assert row["admin2"] == "'" + CALC
    assert row["tags"] == f"'-{w};@x"
    # Numbers stay numbers, minus sign and all; plain text is untouched.
    assert (row["lat"], row["lon"]) == ("-33.5", "-3.25")
    assert (row["killed_low"], row["killed_best"], row["killed_high"]) == ("2", "3", "")
    assert row["category"] == "shelling" and row["country"] == "SY"
    texts = {k: v for k, v in row.items() if k not in ("lat", "lon")}
    assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in texts.values()), texts


def test_json_exports_keep_the_text_as_stored(hostile):
    caller, w, created = hostile
    resp = caller.get("/v1/violations/export", query_string={"format": "ndjson", "q": w})
    (item,) = [json.loads(line) for line in resp.get_data(as_text=True).splitlines()]
    assert item["title"] == HYPERLINK == created["title"]
    assert item["location"]["admin1"] == MINUS
    resp = caller.get("/v1/violations/export", query_string={"format": "geojson", "q": w})
    (feature,) = resp.get_json()["features"]
    assert feature["properties"]["title"] == HYPERLINK
    assert feature["properties"]["tags"] == [f"-{w}", "@x"]


def test_one_rule_decides(app):
    from service.text import formula_safe

    for text in ("=1", "+1", "-1", "@1", "\t1", "\r1"):
        assert formula_safe(text) == "'" + text
    for text in ("1", "a=1", " =1", "'=1", "", None):
        assert formula_safe(text) == text


def test_postgres_copy_quotes_as_python_does(app, hostile, is_postgres):
    """The database's COPY path and the Python writer give the same bytes for hostile text."""
    if not is_postgres:
        pytest.skip("PostgreSQL only: COPY is PostgreSQL's")
    from service.core import query
    from service.resources.exports import formats

    _caller, w, _created = hostile
    filters = {"q": w}
    with app.app_context(), db.session_scope(write=False) as session:
        by_database = b"".join(query.copy_csv(session, filters, formats.CELLS)).decode()
        by_python = "".join(formats.csv_records(query.export_batches(session, filters), True))
    assert formats.csv_head(True) + by_database == by_python
    assert "'=HYPERLINK" in by_database
