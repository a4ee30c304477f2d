"""Routes for /v1/stats."""

from ..common import Blueprint

blp = Blueprint(
    "stats", __name__, url_prefix="/v1/stats", description="Counts and casualty sums by group."
)
