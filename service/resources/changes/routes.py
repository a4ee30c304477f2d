"""Routes for /v1/changes: the change feed."""

from ..common import Blueprint

blp = Blueprint(
    "changes",
    __name__,
    url_prefix="/v1/changes",
    description="Every write, in commit order, for incremental sync.",
)
