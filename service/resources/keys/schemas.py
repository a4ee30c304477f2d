"""Public contract of API keys."""

import marshmallow as ma

from ...core.actors import ROLES
from ..fields import NoNul, slug_field, text
from ..pages import list_of_page


class KeyCreateSchema(NoNul):
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
    label = text(
        200,
        "Note for admins, e.g. who holds the key.",
        allow_none=True,
        metadata={"example": "Idlib field team"},
    )


class KeySchema(ma.Schema):
    id = ma.fields.String(
        dump_only=True,
        metadata={
            "description": "Key id (not the secret).",
            "example": "9b2c4d6e-1f3a-4b5c-8d7e-6f5a4b3c2d1e",
        },
    )
    org = ma.fields.String(
        attribute="org_id",
        dump_only=True,
        metadata={"description": "Organisation.", "example": "sohr"},
    )
    role = ma.fields.String(
        dump_only=True, metadata={"description": "Role.", "example": "reporter"}
    )
    prefix = ma.fields.String(
        dump_only=True,
        metadata={"description": "First characters of the key.", "example": "cl_YktBh5z"},
    )
    label = ma.fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "Note.", "example": "Idlib field team"},
    )
    created_at = ma.fields.DateTime(
        dump_only=True, metadata={"description": "UTC.", "example": "2018-11-01T08:00:00+00:00"}
    )
    revoked_at = ma.fields.DateTime(
        dump_only=True,
        allow_none=True,
        metadata={"description": "UTC; null while valid.", "example": "2019-03-01T12:00:00+00:00"},
    )


class NewKeySchema(KeySchema):
    key = ma.fields.String(
        dump_only=True,
        metadata={
            "description": "The key itself, shown this once only.",
            "example": "cl_YktBh5zdHDBw8A8Sje5u_rR_CnCvVqSAefeJuv99cLg",
        },
    )


class KeyListArgs(NoNul):
    org = slug_field("Only keys of this organisation.", metadata={"example": "sohr"})


KeyPageSchema = list_of_page(KeySchema, "KeyPage")
