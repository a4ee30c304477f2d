"""Routes for /v1/audit."""

import marshmallow as ma
from flask.views import MethodView

from ...core import audit as core
from ..common import Blueprint, requires, session

blp = Blueprint(
    "audit", __name__, url_prefix="/v1/audit", description="The hash-chained audit log."
)


class VerifySchema(ma.Schema):
    ok = ma.fields.Boolean(metadata={"description": "True when every entry matches its hash."})
    entries = ma.fields.Integer(metadata={"description": "Entries checked."})
    head = ma.fields.String(metadata={"description": "Hash of the last good entry."})
    first_bad_seq = ma.fields.Integer(
        metadata={"description": "The first entry that does not match (when not ok)."}
    )
    reason = ma.fields.String(metadata={"description": "What does not match (when not ok)."})


@blp.route("/verify")
class Verify(MethodView):
    @requires("reader")
    @blp.response(200, VerifySchema)
    def get(self):
        """Recompute the audit chain and name the first entry that does not match"""
        return core.verify(session())
