"""Routes for /v1/sources."""

from flask.views import MethodView

from ...core import sources as core
from ...core.disclosure import source_view
from ..access import principal, requires, session
from ..pages import LINK_HEADER, PageArgs, keyset_page
from ..spec import Blueprint, errors
from .schemas import (
    SourceCreateSchema,
    SourceEraseSchema,
    SourcePageSchema,
    SourcePatchSchema,
    SourceQueryArgs,
    SourceSchema,
)

blp = Blueprint(
    "sources",
    __name__,
    url_prefix="/v1/sources",
    description="Provenance: where each claim came from. Never fetched.",
)


class SourceListArgs(PageArgs, SourceQueryArgs):
    pass


@blp.route("")
class Sources(MethodView):
    @requires("reader")
    @blp.etag
    @blp.arguments(SourceListArgs, location="query")
    @blp.response(200, SourcePageSchema, headers=LINK_HEADER)
    def get(self, args):
        """List sources"""
        body, status, headers = keyset_page(
            "sources",
            args,
            lambda after, limit: core.list_(
                session(),
                publisher=args.get("publisher"),
                kind=args.get("kind"),
                after=after,
                limit=limit,
            ),
        )
        body["items"] = [source_view(s, principal()) for s in body["items"]]
        return body, status, headers

    @requires("reporter")
    @blp.etag
    @blp.arguments(SourceCreateSchema)
    @blp.response(201, SourceSchema)
    def post(self, data):
        """Record a source"""
        return source_view(core.create(session(), principal(), data), principal())


@blp.route("/<source_id>")
class SourceById(MethodView):
    @requires("reader")
    @blp.etag
    @blp.response(200, SourceSchema)
    @errors(404)
    def get(self, source_id):
        """Get a source (identities of confidential sources only for those allowed)"""
        return source_view(core.get(session(), source_id), principal())

    @requires("reporter")
    @blp.etag
    @blp.arguments(SourcePatchSchema)
    @blp.response(200, SourceSchema)
    @errors(404)
    def patch(self, data, source_id):
        """Change a source (If-Match required)"""
        source = core.get(session(), source_id)
        blp.check_etag(source_view(source, principal()), SourceSchema)
        return source_view(core.update(session(), principal(), source, data), principal())


@blp.route("/<source_id>/erase")
class EraseSource(MethodView):
    @requires("reporter")
    @blp.arguments(SourceEraseSchema)
    @blp.response(200, SourceSchema)
    @errors(404, 409)
    def post(self, data, source_id):
        """Destroy a source's identifying values, when a witness is in danger

        For the organisation that recorded the source, or an admin. The author, url,
        archive_url, each edition's url and the locator of every citation of the source are
        destroyed wherever the service keeps them, the audit log's sealed values included;
        what remains is the record with those values null, a tombstone (`erased_at`,
        `erased_by`, `erased_reason`) and an audit entry. The audit chain still verifies. No
        one, admins included, can read the values again. On PostgreSQL, old row versions and
        backups are the operator's to purge (see the README).
        """
        source = core.get(session(), source_id)
        return source_view(core.erase(session(), principal(), source, data["reason"]), principal())
