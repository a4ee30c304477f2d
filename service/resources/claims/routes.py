"""Routes for /v1/claims."""

from flask.views import MethodView

from ...core import claims as core
from ...core import violations
from ..access import principal, requires, session
from ..spec import Blueprint, errors
from .present import claim_view
from .schemas import ClaimPatchSchema, ClaimSchema, WithdrawSchema

blp = Blueprint(
    "claims",
    __name__,
    url_prefix="/v1/claims",
    description="Claims and counterclaims; withdrawn, never deleted.",
)


@blp.route("/<claim_id>")
class ClaimById(MethodView):
    @requires("reader")
    @blp.etag
    @blp.response(200, ClaimSchema)
    @errors(404)
    def get(self, claim_id):
        """Get a claim"""
        return claim_view(core.get(session(), claim_id), principal())

    @requires("reporter")
    @blp.etag
    @blp.arguments(ClaimPatchSchema)
    @blp.response(200, ClaimSchema)
    @errors(404)
    def patch(self, data, claim_id):
        """Change a claim your organisation recorded (If-Match required)"""
        claim = core.get(session(), claim_id)
        blp.check_etag(claim_view(claim, principal()), ClaimSchema)
        claim = violations.update_claim(session(), principal(), claim, data)
        return claim_view(claim, principal())


@blp.route("/<claim_id>/withdraw")
class Withdraw(MethodView):
    @requires("reporter")
    @blp.arguments(WithdrawSchema)
    @blp.response(200, ClaimSchema)
    @errors(404)
    def post(self, data, claim_id):
        """Withdraw a claim: it stays, marked, and no longer counts toward the status"""
        claim = core.get(session(), claim_id)
        claim = violations.withdraw_claim(session(), principal(), claim, data["reason"])
        return claim_view(claim, principal())
