"""Routes for /v1/audit."""

import threading

import marshmallow as ma
from flask.views import MethodView

from ... import db
from ...core import audit as core
from ...core.errors import Busy, Forbidden
from ..access import principal, requires, session
from ..spec import Blueprint, errors

# One verification at a time per process: a long one must not take every thread of a worker.
_RUNNING = threading.Lock()


class VerifyArgs(ma.Schema):
    full = ma.fields.Boolean(
        load_default=False,
        truthy={"true", "1"},
        falsy={"false", "0"},
        metadata={
            "description": "Admins: re-hash the whole chain, not only what came after the last "
            "verified checkpoint.",
            "example": False,
        },
    )

blp = Blueprint(
    "audit", __name__, url_prefix="/v1/audit", description="The hash-chained audit log."
)


class VerifySchema(ma.Schema):
    ok = ma.fields.Boolean(
        metadata={"description": "True when every entry matches its hash.", "example": True}
    )
    entries = ma.fields.Integer(metadata={"description": "Entries checked.", "example": 1187})
    from_seq = ma.fields.Integer(
        metadata={
            "description": "The checked entries came after this one (0: from the first): the "
            "chain up to it verified before and its hash is unchanged.",
            "example": 1100,
        }
    )
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
    @requires("verifier")
    @blp.arguments(VerifyArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, VerifySchema)
    @errors(429)
    def get(self, args):
        """Check the audit chain and name the first entry that does not match

        Verifiers and admins. Re-hashes the entries after the last verified checkpoint (the
        entry at the checkpoint must still have the hash recorded then) and checks the sealed
        values they refer to; `full=true` (admins) re-hashes the whole chain and every sealed
        value. One verification runs at a time per process; another meanwhile is 429.
        """
        if args["full"] and not principal().at_least("admin"):
            raise Forbidden("full=true re-checks the whole chain: admins only.")
        if not _RUNNING.acquire(blocking=False):
            raise Busy("A verification is running; retry shortly.", retry_after=5)
        try:
            result = core.verify(session(), full=args["full"])
        finally:
            _RUNNING.release()
        if result["ok"] and result["entries"]:
            with db.session_scope() as writer:
                core.record_checkpoint(
                    writer, result["from_seq"] + result["entries"], result["head"]
                )
        return result
