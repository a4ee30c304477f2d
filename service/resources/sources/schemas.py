"""Public contract of sources."""

import marshmallow as ma

from ..fields import HttpUrl, InputSchema, JSONBoolean, LanguageTag, NoNul, UTCDateTime, text
from ..pages import list_of_page

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
MEMO_URL = (
    "https://www.middleeastmonitor.com/"
    "20181112-dozens-dead-as-syria-regime-opposition-clash-in-the-north/"
)


class EditionSchema(ma.Schema):
    language = LanguageTag(required=True, metadata={"description": "BCP 47 tag.", "example": "pt"})
    url = HttpUrl(
        allow_none=True,
        metadata={
            "description": "Where this edition is published.",
            "example": "https://www.monitordooriente.com/20181112-dezenas-de-mortos-na-siria/",
        },
    )
    title = text(
        500,
        "Title of this edition.",
        allow_none=True,
        metadata={"example": "Dezenas de mortos em confrontos no norte da Síria"},
    )


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
    author = text(
        200,
        "Author; hidden when confidential.",
        allow_none=True,
        metadata={"example": "MEMO staff writer"},
    )
    url = HttpUrl(
        allow_none=True,
        metadata={
            "description": "Where it was found; hidden when confidential. Never fetched.",
            "example": MEMO_URL,
        },
    )
    published_at = UTCDateTime(
        allow_none=True, metadata={"description": "UTC.", "example": "2018-11-12T00:00:00+00:00"}
    )
    retrieved_at = UTCDateTime(
        allow_none=True, metadata={"description": "UTC.", "example": "2018-11-12T08:45:00+00:00"}
    )
    archive_url = HttpUrl(
        allow_none=True,
        metadata={
            "description": "Archived copy; hidden when confidential.",
            "example": "https://web.archive.org/web/20181112084500/" + MEMO_URL,
        },
    )
    sha256 = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Regexp(r"^[0-9a-fA-F]{64}$", error="must be 64 hex digits"),
        metadata={
            "description": "SHA-256 of the captured content, hex.",
            "example": "30b2ac924e5dff6142722fa094b6dba42783eb69cedf604ef8a0e214d0d73f13",
        },
    )
    language = LanguageTag(
        allow_none=True, metadata={"description": "BCP 47 tag.", "example": "en"}
    )
    reliability = ma.fields.String(
        allow_none=True,
        validate=ma.validate.OneOf(RELIABILITY),
        metadata={
            "description": "Admiralty source reliability, A (reliable) to F (cannot be judged).",
            "example": "B",
        },
    )
    confidential = JSONBoolean(
        metadata={
            "description": "Only verifiers, admins and the recording organisation see author, "
            "url and archive_url.",
            "example": False,
        }
    )
    editions = ma.fields.List(
        ma.fields.Nested(EditionSchema),
        validate=ma.validate.Length(max=20),
        metadata={
            "description": "Other-language editions.",
            "example": [
                {
                    "language": "pt",
                    "title": "Dezenas de mortos em confrontos no norte da Síria",
                }
            ],
        },
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
    id = ma.fields.String(
        dump_only=True,
        metadata={"description": "UUID.", "example": "5d8e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a"},
    )
    redacted = ma.fields.Boolean(
        dump_only=True,
        metadata={
            "description": "True when identifying fields are withheld from you.",
            "example": False,
        },
    )
    created_by = ma.fields.String(
        dump_only=True, metadata={"description": "Recording org.", "example": "sohr"}
    )
    erased = ma.fields.Boolean(
        dump_only=True,
        metadata={
            "description": "True when the source's identifying values were destroyed "
            "(POST /v1/sources/{id}/erase): they are null for everyone.",
            "example": False,
        },
    )
    erased_at = ma.fields.DateTime(
        dump_only=True,
        allow_none=True,
        metadata={"description": "When it was erased (UTC), or null.", "example": None},
    )
    erased_by = ma.fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "The organisation that erased it, or null.", "example": None},
    )
    erased_reason = ma.fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "Why it was erased, or null.", "example": None},
    )
    created_at = ma.fields.DateTime(
        dump_only=True, metadata={"description": "UTC.", "example": "2018-11-12T09:30:00+00:00"}
    )
    updated_at = ma.fields.DateTime(
        dump_only=True, metadata={"description": "UTC.", "example": "2018-11-12T10:05:00+00:00"}
    )
    version = ma.fields.Integer(
        dump_only=True, metadata={"description": "Row version.", "example": 1}
    )


class SourceQueryArgs(NoNul):
    publisher = text(
        200, "Only sources of this publisher.", metadata={"example": "Middle East Monitor"}
    )
    kind = ma.fields.String(
        validate=ma.validate.OneOf(SOURCE_KINDS),
        metadata={"description": "Only sources of this kind.", "example": "news_article"},
    )


class SourceEraseSchema(InputSchema):
    reason = text(
        2000,
        "Why the identity is destroyed (kept in the tombstone and the audit log: name no one).",
        required=True,
        metadata={"example": "The witness is in danger."},
    )


SourcePageSchema = list_of_page(SourceSchema, "SourcePage")
