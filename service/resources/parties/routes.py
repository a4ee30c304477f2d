"""Routes for /v1/parties."""

from flask.views import MethodView

from ...core import parties as core
from ..access import principal, requires, session
from ..pages import LINK_HEADER, PageArgs, keyset_page
from ..spec import Blueprint, errors
from .schemas import (
    PartyCreateSchema,
    PartyPageSchema,
    PartyPatchSchema,
    PartyQueryArgs,
    PartySchema,
)

blp = Blueprint(
    "parties",
    __name__,
    url_prefix="/v1/parties",
    description="Actors: states, armed forces and groups, guarantors, monitors.",
)


class PartyListArgs(PageArgs, PartyQueryArgs):
    pass


@blp.route("")
class Parties(MethodView):
    @requires("reader")
    @blp.etag
    @blp.arguments(PartyListArgs, location="query")
    @blp.response(200, PartyPageSchema, headers=LINK_HEADER)
    def get(self, args):
        """List parties, optionally matching a name or alias"""
        return keyset_page(
            "parties",
            args,
            lambda after, limit: core.list_(
                session(), q=args.get("q"), kind=args.get("kind"), after=after, limit=limit
            ),
        )

    @requires("reporter")
    @blp.etag
    @blp.arguments(PartyCreateSchema)
    @blp.response(201, PartySchema)
    @errors(409)
    def post(self, data):
        """Record a party"""
        return core.create(session(), principal(), data)


@blp.route("/<party_id>")
class PartyById(MethodView):
    @requires("reader")
    @blp.etag
    @blp.response(200, PartySchema)
    @errors(404)
    def get(self, party_id):
        """Get a party"""
        return core.get(session(), party_id)

    @requires("reporter")
    @blp.etag
    @blp.arguments(PartyPatchSchema)
    @blp.response(200, PartySchema)
    @errors(404)
    def patch(self, data, party_id):
        """Change a party (If-Match required)"""
        party = core.get(session(), party_id)
        blp.check_etag(party, PartySchema)
        return core.update(session(), principal(), party, data)
