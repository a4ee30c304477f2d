"""Routes for /v1/audit."""

from ..common import Blueprint

blp = Blueprint(
    "audit", __name__, url_prefix="/v1/audit", description="The hash-chained audit log."
)
