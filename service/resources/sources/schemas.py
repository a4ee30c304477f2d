"""Public contract of sources."""

import marshmallow as ma

from ..common import list_of_page, text
from ..fields import HttpUrl, InputSchema, LanguageTag, UTCDateTime

SOURCE_KINDS = (
    "news_article",
    "ngo_report",
    "official_statement",
    "social_media",
    "witness_testimony",
    "imagery",
    "video",
    "dataset",
    "other",
)
RELIABILITY = ("A", "B", "C", "D", "E", "F")


class EditionSchema(ma.Schema):
    language = LanguageTag(required=True, metadata={"description": "BCP 47 tag.", "example": "pt"})
    url = HttpUrl(allow_none=True, metadata={"description": "Where this edition is published."})
    title = text(500, "Title of this edition.", allow_none=True)


class _SourceFields(ma.Schema):
    kind = ma.fields.String(
        validate=ma.validate.OneOf(SOURCE_KINDS),
        metadata={"description": "What sort of source.", "example": "news_article"},
    )
    title = text(
        500,
        "Title or short description.",
        allow_none=True,
        metadata={"example": "Dozens dead as Syria regime, opposition clash"},
    )
    publisher = text(
        200,
        "Who published it; independence is judged by publisher.",
        allow_none=True,
        metadata={"example": "Middle East Monitor"},
    )
    author = text(200, "Author; hidden when confidential.", allow_none=True)
    url = HttpUrl(
        allow_none=True,
        metadata={"description": "Where it was found; hidden when confidential. Never fetched."},
    )
    published_at = UTCDateTime(allow_none=True, metadata={"description": "UTC."})
    retrieved_at = UTCDateTime(allow_none=True, metadata={"description": "UTC."})
    archive_url = HttpUrl(
        allow_none=True, metadata={"description": "Archived copy; hidden when confidential."}
    )
    sha256 = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Regexp(r"^[0-9a-fA-F]{64}$", error="must be 64 hex digits"),
        metadata={"description": "SHA-256 of the captured content, hex."},
    )
    language = LanguageTag(
        allow_none=True, metadata={"description": "BCP 47 tag.", "example": "en"}
    )
    reliability = ma.fields.String(
        allow_none=True,
        validate=ma.validate.OneOf(RELIABILITY),
        metadata={
            "description": "Admiralty source reliability, A (reliable) to F (cannot be judged)."
        },
    )
    confidential = ma.fields.Boolean(
        metadata={
            "description": "Only verifiers, admins and the recording organisation see author, "
            "url and archive_url."
        }
    )
    editions = ma.fields.List(
        ma.fields.Nested(EditionSchema),
        validate=ma.validate.Length(max=20),
        metadata={"description": "Other-language editions."},
    )


class SourcePatchSchema(InputSchema, _SourceFields):
    @ma.post_load
    def _normalise(self, data, **kwargs):
        if data.get("sha256"):
            data["sha256"] = data["sha256"].lower()
        return data


class SourceCreateSchema(SourcePatchSchema):
    kind = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(SOURCE_KINDS),
        metadata={"description": "What sort of source.", "example": "news_article"},
    )

    @ma.validates_schema
    def _identifies_something(self, data, **kwargs):
        if not any(data.get(k) for k in ("title", "publisher", "url", "author")):
            raise ma.ValidationError(
                {"title": ["give at least one of title, publisher, url or author"]}
            )


class SourceSchema(_SourceFields):
    id = ma.fields.String(dump_only=True, metadata={"description": "UUID."})
    redacted = ma.fields.Boolean(
        dump_only=True,
        metadata={"description": "True when identifying fields are withheld from you."},
    )
    created_by = ma.fields.String(dump_only=True, metadata={"description": "Recording org."})
    created_at = ma.fields.DateTime(dump_only=True, metadata={"description": "UTC."})
    updated_at = ma.fields.DateTime(dump_only=True, metadata={"description": "UTC."})
    version = ma.fields.Integer(dump_only=True, metadata={"description": "Row version."})


class SourceQueryArgs(ma.Schema):
    publisher = text(200, "Only sources of this publisher.")
    kind = ma.fields.String(
        validate=ma.validate.OneOf(SOURCE_KINDS),
        metadata={"description": "Only sources of this kind."},
    )


SourcePageSchema = list_of_page(SourceSchema, "SourcePage")
