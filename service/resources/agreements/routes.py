"""Routes for /v1/agreements."""

from flask.views import MethodView

from ...core import agreements as core
from ..access import principal, requires, session
from ..pages import LINK_HEADER, PageArgs, keyset_page
from ..spec import Blueprint, errors
from .schemas import (
    AgreementCreateSchema,
    AgreementPageSchema,
    AgreementPatchSchema,
    AgreementSchema,
)

blp = Blueprint(
    "agreements",
    __name__,
    url_prefix="/v1/agreements",
    description="Ceasefires and memoranda, their provisions and zones.",
)


@blp.route("")
class Agreements(MethodView):
    @requires("reader")
    @blp.etag
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, AgreementPageSchema, headers=LINK_HEADER)
    def get(self, args):
        """List agreements"""
        return keyset_page(
            "agreements",
            args,
            lambda after, limit: core.list_(session(), after=after, limit=limit),
        )

    @requires("reporter")
    @blp.etag
    @blp.arguments(AgreementCreateSchema)
    @blp.response(201, AgreementSchema)
    @errors(409)
    def post(self, data):
        """Record an agreement"""
        return core.create(session(), principal(), data)


@blp.route("/<agreement_id>")
class AgreementById(MethodView):
    @requires("reader")
    @blp.etag
    @blp.response(200, AgreementSchema)
    @errors(404)
    def get(self, agreement_id):
        """Get an agreement"""
        return core.get(session(), agreement_id)

    @requires("reporter")
    @blp.etag
    @blp.arguments(AgreementPatchSchema)
    @blp.response(200, AgreementSchema)
    @errors(404)
    def patch(self, data, agreement_id):
        """Change an agreement (If-Match required)"""
        agreement = core.get(session(), agreement_id)
        blp.check_etag(agreement, AgreementSchema)
        return core.update(session(), principal(), agreement, data)
