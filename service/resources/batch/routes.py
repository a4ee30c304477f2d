"""Routes for /v1/violations/batch."""

import marshmallow as ma
from flask.views import MethodView

from ...core import batch as core
from ...errors import answer_for, flatten_messages
from ..access import principal, requires, session
from ..spec import Blueprint
from ..violations.schemas import ViolationCreateSchema
from .schemas import BatchCreateSchema, BatchResultSchema

blp = Blueprint(
    "batch",
    __name__,
    url_prefix="/v1/violations/batch",
    description="Up to 1,000 violations in one request, each atomic on its own.",
)


@blp.route("")
class Batch(MethodView):
    @requires("reporter")
    @blp.arguments(BatchCreateSchema)
    @blp.response(200, BatchResultSchema)
    def post(self, data):
        """Record up to 1,000 violations, each atomic on its own

        Answers 200 whenever the envelope is valid, with one result per item in order: 201 and
        the new id, or the status and fields that POST /v1/violations would have answered for
        that item alone. A failed item leaves nothing behind and does not affect the others.
        A 422 for the whole request means the envelope itself is wrong (e.g. more than 1,000
        items), and then nothing is recorded.
        """
        schema = ViolationCreateSchema()
        results: dict[int, dict] = {}
        valid: list[tuple[int, dict]] = []
        for index, item in enumerate(data["items"]):
            try:
                valid.append((index, schema.load(item)))
            except ma.ValidationError as exc:
                results[index] = {
                    "index": index,
                    "status": 422,
                    "errors": flatten_messages(exc.messages),
                }
        for outcome in core.create_violations(session(), principal(), valid):
            if outcome.error is None:
                results[outcome.index] = {"index": outcome.index, "status": 201, "id": outcome.id}
            else:
                # The status and fields POST /v1/violations would answer for the item alone.
                error = outcome.error
                results[outcome.index] = {
                    "index": outcome.index,
                    "status": answer_for(error)[0],
                    "errors": error.errors or [{"field": "body", "reason": error.detail}],
                }
        return {"results": [results[i] for i in range(len(data["items"]))]}
