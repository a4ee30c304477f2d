"""Routes for /v1/keys (admins only)."""

from flask.views import MethodView

from ... import idempotency
from ...core import keys as core
from ..access import principal, requires, session
from ..pages import LINK_HEADER, PageArgs, keyset_page
from ..spec import Blueprint, errors
from .schemas import KeyCreateSchema, KeyListArgs, KeyPageSchema, KeySchema, NewKeySchema

blp = Blueprint(
    "keys", __name__, url_prefix="/v1/keys", description="API keys of organisations; admins only."
)


class KeyListQuery(PageArgs, KeyListArgs):
    pass


@blp.route("")
class Keys(MethodView):
    @requires("admin")
    @blp.arguments(KeyListQuery, location="query")
    @blp.response(200, KeyPageSchema, headers=LINK_HEADER)
    def get(self, args):
        """List keys (never their secrets)"""
        return keyset_page(
            "keys",
            args,
            lambda after, limit: core.list_(
                session(), org=args.get("org"), after=after, limit=limit
            ),
        )

    @requires("admin")
    @blp.arguments(KeyCreateSchema)
    @blp.response(201, NewKeySchema)
    def post(self, data):
        """Create a key; the answer shows it once"""
        row, secret = core.create(
            session(), principal(), data["org"], data["role"], data.get("label")
        )
        # The secret is shown in this answer alone: it is never kept for a replay.
        idempotency.withhold(row.id)
        fields = ("id", "org_id", "role", "prefix", "label", "created_at", "revoked_at")
        return {**{f: getattr(row, f) for f in fields}, "key": secret}


@blp.route("/<key_id>/revoke")
class RevokeKey(MethodView):
    @requires("admin")
    @blp.response(200, KeySchema)
    @errors(404)
    def post(self, key_id):
        """Revoke a key; it stops working at once"""
        return core.revoke(session(), principal(), core.get(session(), key_id))
