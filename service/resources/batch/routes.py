"""Routes for /v1/violations/batch."""

from ..common import Blueprint

blp = Blueprint(
    "batch",
    __name__,
    url_prefix="/v1/violations/batch",
    description="Up to 1,000 violations in one request, each atomic on its own.",
)
