"""Public contract of the change feed."""

import marshmallow as ma

from ..common import DEFAULT_PAGE, MAX_PAGE


class ChangeArgs(ma.Schema):
    after = ma.fields.Integer(
        load_default=0,
        validate=ma.validate.Range(min=0),
        metadata={
            "description": "The last seq you have seen (the previous next_cursor); 0 or absent "
            "for the start of the log.",
            "example": 0,
        },
    )
    limit = ma.fields.Integer(
        load_default=DEFAULT_PAGE,
        validate=ma.validate.Range(min=1, max=MAX_PAGE),
        metadata={"description": f"Entries per page, at most {MAX_PAGE}."},
    )


class ChangeSchema(ma.Schema):
    seq = ma.fields.Integer(
        metadata={"description": "Position in the audit log: gapless, in commit order."}
    )
    at = ma.fields.DateTime(metadata={"description": "When it was written (UTC)."})
    action = ma.fields.String(
        metadata={"description": "create, update, withdraw, verdict, revoke, ..."}
    )
    entity = ma.fields.String(
        metadata={"description": "violation, claim, source, party, agreement, key, ..."}
    )
    entity_id = ma.fields.String(metadata={"description": "Id of what was written."})
    violation_id = ma.fields.String(
        allow_none=True,
        metadata={"description": "The violation a claim or verdict belongs to, if any."},
    )
    actor = ma.fields.String(
        allow_none=True, metadata={"description": "Organisation that wrote it."}
    )


class ChangePageSchema(ma.Schema):
    items = ma.fields.List(
        ma.fields.Nested(ChangeSchema), metadata={"description": "Entries after `after`, by seq."}
    )
    next_cursor = ma.fields.String(
        metadata={
            "description": "Pass as `after` in the next poll; never null (when nothing is new "
            "it is the `after` you sent)."
        }
    )
    has_more = ma.fields.Boolean(
        metadata={"description": "More entries follow at once: poll again without waiting."}
    )
