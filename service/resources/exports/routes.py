"""Routes for /v1/violations/export: streamed exports."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from flask import Response, stream_with_context
from flask.views import MethodView

from ... import db
from ...core import query
from ..access import requires, session
from ..pages import refuse_unknown_filters
from ..spec import Blueprint
from ..violations.schemas import ViolationQueryArgs
from . import formats

log = logging.getLogger("service.export")

blp = Blueprint(
    "exports",
    __name__,
    url_prefix="/v1/violations/export",
    description="Streamed exports: CSV, GeoJSON, NDJSON, HXL.",
)

# Rows per round trip of the server-side cursor: memory holds one batch, whatever the total.
BATCH = 1000


class ExportArgs(ViolationQueryArgs):
    format = ma.fields.String(
        load_default="csv",
        validate=ma.validate.OneOf(tuple(formats.FORMATS)),
        metadata={
            "description": "csv (the default), geojson, ndjson, or hxl (CSV with the HXL "
            "hashtag row under the header)."
        },
    )


_RESPONSE_DOC = {
    "description": (
        "Every matching violation, oldest recorded first, streamed. CSV and HXL have one "
        "column per field, location and casualties flattened (lists joined with ';'): "
        + ", ".join(column[0] for column in formats.COLUMNS)
        + ". A text cell that a spreadsheet would take for a formula (one starting with =, +, "
        "-, @, a tab or a carriage return) begins with ' in CSV and HXL, as OWASP's CSV "
        "injection guidance advises, so that opening an export runs nothing; numbers are "
        "written as they are. GeoJSON and NDJSON keep the text as stored."
        " GeoJSON is a FeatureCollection of Point features ([lon, lat]; null geometry "
        "without coordinates) whose properties are the list items of GET /v1/violations; "
        "NDJSON has one such item per line."
    ),
    "headers": {
        "Content-Disposition": {
            "description": 'attachment; filename="violations-<UTC time, e.g. 20261125T221500Z>'
            '<.csv, -hxl.csv, .geojson or .ndjson>"',
            "schema": {"type": "string"},
        }
    },
    "content": {
        "text/csv": {"schema": {"type": "string", "description": "format=csv or format=hxl"}},
        "application/geo+json": {
            "schema": {"type": "object", "description": "format=geojson: a FeatureCollection"}
        },
        "application/x-ndjson": {
            "schema": {"type": "string", "description": "format=ndjson: one JSON object a line"}
        },
    },
}


def _stream(fmt: str, filters: dict[str, Any]) -> Iterator[bytes]:
    """Runs while the response is sent, after the request's own session is gone: so it reads
    through a session of its own, read-only, and closes it however the stream ends."""
    own = db.new_session()
    try:
        postgres = own.get_bind().dialect.name == "postgresql"
        if postgres:
            # One snapshot for the whole export (the cursor and the per-batch queries agree).
            own.connection(
                execution_options={
                    "isolation_level": "REPEATABLE READ",
                    "postgresql_readonly": True,
                }
            )
        if fmt in ("csv", "hxl"):
            hxl = fmt == "hxl"
            if postgres:
                yield formats.csv_head(hxl).encode("utf-8")
                yield from query.copy_csv(own, filters, formats.CELLS)
            else:
                records = query.export_batches(own, filters, batch=BATCH)
                for chunk in formats.csv_records(records, hxl):
                    yield chunk.encode("utf-8")
        else:
            what = "summary" if fmt == "ndjson" else "feature"
            if postgres:
                texts = query.json_batches(own, filters, what, batch=BATCH)
            else:
                texts = formats.json_texts(query.export_batches(own, filters, batch=BATCH), what)
            wrap = formats.ndjson if fmt == "ndjson" else formats.geojson
            for chunk in wrap(texts):
                yield chunk.encode("utf-8")
    except Exception:
        # The status line is sent already: all that is left is to cut the stream short.
        log.exception("export failed while streaming")
        raise
    finally:
        own.close()


@blp.route("")
class Export(MethodView):
    @requires("reader")
    @blp.arguments(ExportArgs, location="query", unknown=ma.RAISE)
    @blp.doc(responses={"200": _RESPONSE_DOC})
    def get(self, args):
        """Export every violation that matches the filters: CSV, GeoJSON, NDJSON or HXL"""
        fmt = args.pop("format")
        media_type, suffix = formats.FORMATS[fmt]
        refuse_unknown_filters(session(), args)
        # The request's session only authenticated the caller: end it now rather than hold its
        # connection for as long as the stream lasts.
        session().close()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return Response(
            stream_with_context(_stream(fmt, args)),
            status=200,
            content_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="violations-{stamp}{suffix}"'},
        )
