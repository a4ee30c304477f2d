"""Routes for /v1/audit."""

import marshmallow as ma
from flask.views import MethodView

from ...core import audit as core
from ..common import Blueprint, requires, session

blp = Blueprint(
    "audit", __name__, url_prefix="/v1/audit", description="The hash-chained audit log."
)


class VerifySchema(ma.Schema):
    ok = ma.fields.Boolean(
        metadata={"description": "True when every entry matches its hash.", "example": True}
    )
    entries = ma.fields.Integer(metadata={"description": "Entries checked.", "example": 1187})
    sealed = ma.fields.Integer(
        metadata={
            "description": "Sealed values checked against the commitments the entries hold "
            "(erased ones are gone, and their entries still verify).",
            "example": 42,
        }
    )
    head = ma.fields.String(
        metadata={
            "description": "Hash of the last good entry.",
            "example": "9c4e7f1a2b3d5c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6",
        }
    )
    first_bad_seq = ma.fields.Integer(
        metadata={
            "description": "The first entry that does not match (when not ok).",
            "example": 1042,
        }
    )
    reason = ma.fields.String(
        metadata={
            "description": "What does not match (when not ok).",
            "example": "content does not match its hash",
        }
    )


@blp.route("/verify")
class Verify(MethodView):
    @requires("reader")
    @blp.response(200, VerifySchema)
    def get(self):
        """Recompute the audit chain and name the first entry that does not match"""
        return core.verify(session())
