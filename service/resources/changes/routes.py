"""Routes for /v1/changes: the change feed."""

import marshmallow as ma
from flask.views import MethodView

from ...core import disclosure, feed
from ...paging import self_link
from ..access import principal, requires, session
from ..pages import LINK_HEADER
from ..spec import Blueprint
from .schemas import ChangeArgs, ChangePageSchema

blp = Blueprint(
    "changes",
    __name__,
    url_prefix="/v1/changes",
    description="Every write, in commit order, for incremental sync.",
)


@blp.route("")
class Changes(MethodView):
    @requires("reader")
    @blp.etag
    @blp.arguments(ChangeArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, ChangePageSchema, headers=LINK_HEADER)
    def get(self, args):
        """Every write after `after`, in commit order

        Poll with `after` = the previous next_cursor: seq numbers are given out in commit order
        and without gaps, so no entry is ever missed, even while writers commit concurrently.
        Entries about organisations and API keys are shown to admins only; for everyone else a
        page leaves them out (and may hold fewer than `limit` items while `has_more` is true).
        """
        after, limit = args["after"], args["limit"]
        rows = feed.changes_after(session(), after, limit + 1)
        page = rows[:limit]
        last = page[-1].seq if page else after
        hidden = disclosure.hidden_feed_entities(principal()) or ()
        page = [r for r in page if r.entity not in hidden]
        items = [
            {
                "seq": r.seq,
                "at": r.at,
                "action": r.action,
                "entity": r.entity,
                "entity_id": r.entity_id,
                "violation_id": r.violation_id,
                "actor": r.actor_org,
            }
            for r in page
        ]
        more = len(rows) > limit
        # rel="next" only while there is more: a client that follows Link headers stops at
        # the end of the feed, and polls again later with next_cursor.
        headers = {"Link": f'<{self_link({"after": last, "limit": limit})}>; rel="next"'}
        return (
            {"items": items, "next_cursor": str(last), "has_more": more},
            200,
            headers if more else {},
        )
