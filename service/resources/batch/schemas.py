"""Public contract of the batch submission."""

import marshmallow as ma

from ...core.batch import MAX_ITEMS
from ..common import ProblemFieldSchema
from ..fields import InputSchema
from ..violations.schemas import ViolationCreateSchema


class _UncheckedViolation(ma.fields.Nested):
    """Documented as a violation body, but loaded as given: each item is then validated on its
    own, so that one bad item fails alone instead of failing the whole batch."""

    def _deserialize(self, value, attr, data, **kwargs):
        return value


class BatchCreateSchema(InputSchema):
    items = ma.fields.List(
        _UncheckedViolation(ViolationCreateSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_ITEMS),
        metadata={
            "description": f"1 to {MAX_ITEMS:,} violations, each shaped like the body of "
            "POST /v1/violations (inline claims and sources allowed)."
        },
    )


class BatchItemResultSchema(ma.Schema):
    index = ma.fields.Integer(metadata={"description": "Position of the item in `items`."})
    status = ma.fields.Integer(
        metadata={
            "description": "What POST /v1/violations would have answered for this item: 201 "
            "recorded, 422 invalid (see errors), 409 conflicting with recorded data."
        }
    )
    id = ma.fields.String(metadata={"description": "The new violation's id (status 201)."})
    errors = ma.fields.List(
        ma.fields.Nested(ProblemFieldSchema),
        metadata={"description": "Each bad field of the item and why (status 4xx)."},
    )


class BatchResultSchema(ma.Schema):
    results = ma.fields.List(
        ma.fields.Nested(BatchItemResultSchema),
        metadata={"description": "One result per item, in the order of `items`."},
    )
