"""Public contract of the change feed."""

import marshmallow as ma

from ..pages import DEFAULT_PAGE, MAX_PAGE

# Example shown in the documentation: Turkey's denial recorded as a claim.
_CHANGE = {
    "seq": 1187,
    "at": "2018-11-12T10:05:00+00:00",
    "action": "create",
    "entity": "claim",
    "entity_id": "c2b9e0d4-5a6f-4b1e-9c3d-8e7f6a5b4c3d",
    "violation_id": "3f6c2a4e-8b1d-4c55-9a0e-2b7d5c1e9f10",
    "actor": "sohr",
}


class ChangeArgs(ma.Schema):
    after = ma.fields.Integer(
        load_default=0,
        # The largest seq the database holds (a 32-bit INTEGER column on PostgreSQL).
        validate=ma.validate.Range(min=0, max=2**31 - 1),
        metadata={
            "description": "The last seq you have seen (the previous next_cursor); 0 or absent "
            "for the start of the log.",
            "example": 0,
        },
    )
    limit = ma.fields.Integer(
        load_default=DEFAULT_PAGE,
        validate=ma.validate.Range(min=1, max=MAX_PAGE),
        metadata={"description": f"Entries per page, at most {MAX_PAGE}.", "example": DEFAULT_PAGE},
    )


class ChangeSchema(ma.Schema):
    seq = ma.fields.Integer(
        metadata={
            "description": "Position in the audit log: gapless, in commit order.",
            "example": _CHANGE["seq"],
        }
    )
    at = ma.fields.DateTime(
        metadata={"description": "When it was written (UTC).", "example": _CHANGE["at"]}
    )
    action = ma.fields.String(
        metadata={
            "description": "create, update, withdraw, verdict, revoke, ...",
            "example": _CHANGE["action"],
        }
    )
    entity = ma.fields.String(
        metadata={
            "description": "violation, claim, source, party, agreement, key, ...",
            "example": _CHANGE["entity"],
        }
    )
    entity_id = ma.fields.String(
        metadata={"description": "Id of what was written.", "example": _CHANGE["entity_id"]}
    )
    violation_id = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "The violation a claim or verdict belongs to, if any.",
            "example": _CHANGE["violation_id"],
        },
    )
    actor = ma.fields.String(
        allow_none=True,
        metadata={"description": "Organisation that wrote it.", "example": _CHANGE["actor"]},
    )


class ChangePageSchema(ma.Schema):
    items = ma.fields.List(
        ma.fields.Nested(ChangeSchema),
        metadata={"description": "Entries after `after`, by seq.", "example": [_CHANGE]},
    )
    next_cursor = ma.fields.String(
        metadata={
            "description": "Pass as `after` in the next poll; never null (when nothing is new "
            "it is the `after` you sent).",
            "example": "1187",
        }
    )
    has_more = ma.fields.Boolean(
        metadata={
            "description": "More entries follow at once: poll again without waiting.",
            "example": False,
        }
    )
