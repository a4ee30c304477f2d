"""Routes for /v1/stats."""

import marshmallow as ma
from flask.views import MethodView

from ...core import stats
from ..access import requires, session
from ..pages import refuse_unknown_filters
from ..spec import Blueprint
from .schemas import StatsArgs, StatsSchema

blp = Blueprint(
    "stats", __name__, url_prefix="/v1/stats", description="Counts and casualty sums by group."
)


@blp.route("")
class Stats(MethodView):
    @requires("reader")
    @blp.etag
    @blp.arguments(StatsArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, StatsSchema)
    def get(self, args):
        """Count violations and sum their casualties by one or two keys, with the list filters"""
        group_by = args.pop("group_by")
        groups = stats.grouped(session(), args, group_by)
        if not groups:
            # Nothing matched: say so only if every record the filters name exists.
            refuse_unknown_filters(session(), args)
        return {"group_by": group_by, "groups": groups}
