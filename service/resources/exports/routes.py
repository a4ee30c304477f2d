"""Routes for /v1/violations/export: streamed exports."""

from ..common import Blueprint

blp = Blueprint(
    "exports",
    __name__,
    url_prefix="/v1/violations/export",
    description="Streamed exports: CSV, GeoJSON, NDJSON, HXL.",
)
