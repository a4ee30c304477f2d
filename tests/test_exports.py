"""GET /v1/violations/export: the four formats carry the same rows as the list, streamed."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from service import db
from tests.conftest import error_fields
from tests.query_fixtures import all_pages, build_world, module_caller


@pytest.fixture(scope="module")
def world_caller(app):
    return module_caller(app, "reporter")


@pytest.fixture(scope="module")
def world(world_caller):
    """Five violations with known answers (tests/query_fixtures.py)."""
    return build_world(world_caller)


FIGURES = ("low", "best", "high")


def export(caller, fmt, **params):
    resp = caller.get("/v1/violations/export", query_string={"format": fmt, **params})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return resp


def flattened(item: dict) -> dict[str, str]:
    """A list item as the CSV spells it."""
    location = item["location"] or {}
    casualties = item["casualties"] or {}

    def cell(value) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return json.dumps(value).removesuffix(".0")  # as a JSON number: 36.0 is 36
        return str(value)

    row = {
        "id": item["id"],
        "title": item["title"],
        "description": item["description"],
        "category": item["category"],
        "status": item["status"],
        "occurred_at": item["occurred_at"],
        "occurred_until": item["occurred_until"],
        "date_precision": item["date_precision"],
        "location_name": location.get("name"),
        "admin1": location.get("admin1"),
        "admin2": location.get("admin2"),
        "country": location.get("country"),
        "lat": location.get("lat"),
        "lon": location.get("lon"),
        "location_precision": location.get("precision"),
        "agreement": item["agreement"],
        "provisions": ";".join(item["provisions"]),
        "attributed_party": item["attributed_party"],
        "affected_parties": ";".join(item["affected_parties"]),
        "tags": ";".join(item["tags"]),
        "in_agreement_zone": item["in_agreement_zone"],
        "claim_count": item["claim_count"],
        "reported_by": item["reported_by"],
        "created_at": item["created_at"],
        "updated_at": item["updated_at"],
        "version": item["version"],
    }
    for group, node in (
        ("killed", casualties.get("killed")),
        ("injured", casualties.get("injured")),
        ("civilian_killed", (casualties.get("civilian") or {}).get("killed")),
        ("civilian_injured", (casualties.get("civilian") or {}).get("injured")),
    ):
        for figure in FIGURES:
            row[f"{group}_{figure}"] = (node or {}).get(figure)
    return {k: cell(v) for k, v in row.items()}


@pytest.fixture(scope="module")
def listed(world, world_caller):
    items = all_pages(world_caller, "/v1/violations", {"q": world.word, "limit": 2})
    assert len(items) == 5
    return items


def test_ndjson_lines_are_the_list_items(world, world_caller, listed):
    resp = export(world_caller, "ndjson", q=world.word)
    assert resp.mimetype == "application/x-ndjson"
    lines = resp.get_data(as_text=True).splitlines()
    assert [json.loads(line) for line in lines] == listed


def test_geojson_features_carry_points_and_the_list_items(world, world_caller, listed):
    resp = export(world_caller, "geojson", q=world.word)
    assert resp.mimetype == "application/geo+json"
    collection = json.loads(resp.get_data(as_text=True))
    assert collection["type"] == "FeatureCollection"
    features = collection["features"]
    assert [f["properties"] for f in features] == listed
    for feature, item in zip(features, listed, strict=True):
        assert feature["type"] == "Feature" and feature["id"] == item["id"]
        location = item["location"] or {}
        if location.get("lat") is None:
            assert feature["geometry"] is None
        else:
            assert feature["geometry"] == {
                "type": "Point",
                "coordinates": [location["lon"], location["lat"]],  # [lon, lat]
            }
    assert sum(f["geometry"] is None for f in features) == 1  # V4 has no coordinates


def _csv_rows(resp, hxl: bool):
    assert resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    header = rows[0]
    tags = rows[1] if hxl else None
    return header, tags, [dict(zip(header, r, strict=True)) for r in rows[2 if hxl else 1 :]]


@pytest.mark.parametrize("fmt", ["csv", "hxl"])
def test_csv_and_hxl_flatten_the_list_items(world, world_caller, listed, fmt):
    resp = export(world_caller, fmt, q=world.word)
    header, tags, rows = _csv_rows(resp, hxl=fmt == "hxl")
    assert rows == [flattened(item) for item in listed]
    if fmt == "hxl":
        assert all(tag.startswith("#") for tag in tags)
        by_column = dict(zip(header, tags, strict=True))
        assert by_column["id"] == "#event+id"
        assert by_column["occurred_at"] == "#date+occurred"
        assert by_column["lat"] == "#geo+lat" and by_column["lon"] == "#geo+lon"
        assert by_column["admin1"] == "#adm1+name"
        assert by_column["country"] == "#country+code"
        assert by_column["attributed_party"] == "#group+perpetrator"
        assert by_column["killed_best"] == "#affected+killed"
        assert by_column["killed_low"] == "#affected+killed+min"
        assert by_column["status"] == "#status"
        assert len(set(tags)) == len(tags)


@pytest.mark.parametrize(
    ("fmt", "pattern"),
    [
        ("csv", r"violations-\d{8}T\d{6}Z\.csv"),
        ("hxl", r"violations-\d{8}T\d{6}Z-hxl\.csv"),
        ("geojson", r"violations-\d{8}T\d{6}Z\.geojson"),
        ("ndjson", r"violations-\d{8}T\d{6}Z\.ndjson"),
    ],
)
def test_content_disposition_names_the_file(world, world_caller, fmt, pattern):
    resp = export(world_caller, fmt, q=world.word)
    disposition = resp.headers["Content-Disposition"]
    assert re.fullmatch(rf'attachment; filename="{pattern}"', disposition), disposition


def test_export_takes_the_list_filters(world, world_caller):
    resp = export(world_caller, "ndjson", attributed_party=world.parties["A"])
    ids = {json.loads(line)["id"] for line in resp.get_data(as_text=True).splitlines()}
    assert ids == world.ids("V1", "V2")
    resp = export(world_caller, "geojson", q=world.word, in_agreement_zone="false")
    assert [f["id"] for f in resp.get_json(force=True)["features"]] == [world.v["V3"]["id"]]
    header, _tags, rows = _csv_rows(export(world_caller, "csv", q="nothing" + world.word), False)
    assert rows == [] and header[0] == "id"
    empty = export(world_caller, "geojson", q="nothing" + world.word).get_json(force=True)
    assert empty == {"type": "FeatureCollection", "features": []}


def test_bad_export_parameters_are_named(world_caller):
    resp = world_caller.get(
        "/v1/violations/export",
        query_string={"format": "xlsx", "cursor": "x", "bbox": "1,2"},
    )
    assert resp.status_code == 422
    fields = error_fields(resp)
    assert {"query.format", "query.cursor", "query.bbox"} <= set(fields)


def test_export_streams_through_its_own_session(app, world, world_caller, monkeypatch):
    """The request's session is done with before the body is read; the stream reads through a
    session of its own, and closes it at the end."""
    events: list[tuple[str, object]] = []
    real = db.new_session

    def tracking():
        session = real()
        events.append(("open", session))
        original_close = session.close

        def close():
            events.append(("close", session))
            original_close()

        session.close = close
        return session

    monkeypatch.setattr(db, "new_session", tracking)
    resp = world_caller.client.get(
        "/v1/violations/export",
        query_string={"format": "ndjson", "q": world.word},
        headers={"Authorization": f"Bearer {world_caller.key}"},
        buffered=False,
    )
    assert resp.status_code == 200 and resp.is_streamed
    body = b"".join(resp.response)
    resp.close()
    assert len(body.splitlines()) == 5
    opened = [s for kind, s in events if kind == "open"]
    assert len(opened) == 2, events
    request_session, stream_session = opened
    first_close = events.index(("close", request_session))
    assert first_close < events.index(("open", stream_session))
    assert ("close", stream_session) in events


def test_postgres_formats_the_rows_as_the_python_writers_do(app, world, is_postgres):
    """On PostgreSQL the database writes the CSV cells and the JSON itself; the Python writers
    (which SQLite exports use) must produce the same: the same bytes of CSV, equal JSON."""
    if not is_postgres:
        pytest.skip("PostgreSQL only: it compares PostgreSQL's formatting with Python's")
    from service.core import query
    from service.resources.exports import formats

    filters = {"q": world.word}
    with app.app_context(), db.session_scope(write=False) as session:
        by_database = b"".join(query.copy_csv(session, filters, formats.CELLS)).decode()
        by_python = "".join(formats.csv_records(query.export_batches(session, filters), False))
        assert formats.csv_head(False) + by_database == by_python
        for what in ("summary", "feature"):
            database = [
                json.loads(t) for b in query.json_batches(session, filters, what) for t in b
            ]
            python = [
                json.loads(t)
                for b in formats.json_texts(query.export_batches(session, filters), what)
                for t in b
            ]
            assert database == python and len(python) == 5
