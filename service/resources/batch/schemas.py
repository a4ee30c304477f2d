"""Public contract of the batch submission."""

import marshmallow as ma

from ...core.batch import MAX_ITEMS
from ..fields import InputSchema
from ..spec import ProblemFieldSchema

# Examples shown in the documentation.
_ITEM = {
    "title": "Shelling of Halfaya and Al-Lataminah",
    "category": "shelling",
    "occurred_at": "2018-11-08T22:00:00+00:00",
    "occurred_until": "2018-11-09T21:59:59+00:00",
    "date_precision": "day",
    "location": {"name": "Halfaya", "admin1": "Hama", "country": "SY", "precision": "near"},
    "agreement": "sochi-2018",
    "attributed_party": "syrian-government",
}
_ITEM_ERRORS = [{"field": "occurred_until", "reason": "must not be before occurred_at"}]
_CREATED = {"index": 0, "status": 201, "id": "3f6c2a4e-8b1d-4c55-9a0e-2b7d5c1e9f10"}


class BatchCreateSchema(InputSchema):
    NUL_UNCHECKED = ("items",)  # each item is checked on its own

    # Items are loaded as given and validated one by one afterwards (see the route), so that one
    # bad item fails alone: the spec must not call them violation objects, or a client (or a
    # fuzzer) would expect the whole request refused for one bad item.
    items = ma.fields.List(
        ma.fields.Raw(
            allow_none=True,
            metadata={
                "description": "One violation, shaped like the body of POST /v1/violations "
                "(ViolationCreate). Checked on its own: an item that is not a valid violation, "
                "even one that is not an object, gets status 422 and its errors in `results`."
            },
        ),
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_ITEMS),
        metadata={
            "description": f"1 to {MAX_ITEMS:,} violations, each shaped like the body of "
            "POST /v1/violations (inline claims and sources allowed) and checked on its own.",
            "example": [_ITEM],
        },
    )


class BatchItemResultSchema(ma.Schema):
    index = ma.fields.Integer(
        metadata={"description": "Position of the item in `items`.", "example": 0}
    )
    status = ma.fields.Integer(
        metadata={
            "description": "What POST /v1/violations would have answered for this item: 201 "
            "recorded, 422 invalid (see errors), 409 conflicting with recorded data.",
            "example": 201,
        }
    )
    id = ma.fields.String(
        metadata={"description": "The new violation's id (status 201).", "example": _CREATED["id"]}
    )
    errors = ma.fields.List(
        ma.fields.Nested(ProblemFieldSchema),
        metadata={
            "description": "Each bad field of the item and why (status 4xx).",
            "example": _ITEM_ERRORS,
        },
    )


class BatchResultSchema(ma.Schema):
    results = ma.fields.List(
        ma.fields.Nested(BatchItemResultSchema),
        metadata={
            "description": "One result per item, in the order of `items`.",
            "example": [_CREATED, {"index": 1, "status": 422, "errors": _ITEM_ERRORS}],
        },
    )
