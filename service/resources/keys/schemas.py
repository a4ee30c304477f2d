"""Public contract of API keys."""

import marshmallow as ma

from ...auth import ROLES
from ..common import list_of_page, slug_field, text


class KeyCreateSchema(ma.Schema):
    org = slug_field(
        "Organisation the key belongs to; created if new.",
        required=True,
        metadata={"example": "sohr"},
    )
    role = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(ROLES),
        metadata={"description": "reader < reporter < verifier < admin", "example": "reporter"},
    )
    label = text(200, "Note for admins, e.g. who holds the key.", allow_none=True)


class KeySchema(ma.Schema):
    id = ma.fields.String(dump_only=True, metadata={"description": "Key id (not the secret)."})
    org = ma.fields.String(
        attribute="org_id", dump_only=True, metadata={"description": "Organisation."}
    )
    role = ma.fields.String(dump_only=True, metadata={"description": "Role."})
    prefix = ma.fields.String(
        dump_only=True, metadata={"description": "First characters of the key."}
    )
    label = ma.fields.String(dump_only=True, allow_none=True, metadata={"description": "Note."})
    created_at = ma.fields.DateTime(dump_only=True, metadata={"description": "UTC."})
    revoked_at = ma.fields.DateTime(
        dump_only=True, allow_none=True, metadata={"description": "UTC; null while valid."}
    )


class NewKeySchema(KeySchema):
    key = ma.fields.String(
        dump_only=True, metadata={"description": "The key itself, shown this once only."}
    )


class KeyListArgs(ma.Schema):
    org = slug_field("Only keys of this organisation.")


KeyPageSchema = list_of_page(KeySchema, "KeyPage")
