"""Public contract of claims and counterclaims."""

import marshmallow as ma

from ..fields import (
    InputSchema,
    JSONBoolean,
    JSONInteger,
    LanguageTag,
    UTCDateTime,
    asserts_json_schema,
    fact_name_field,
    slug_field,
    validate_asserts,
)
from ..fields import text as _text
from ..sources.schemas import MEMO_URL, SourceCreateSchema, SourceSchema
from ..spec import example_of

STANCES = ("alleges", "corroborates", "acknowledges", "denies", "disputes", "explains")

# Examples shown in the documentation: the Syrian government's accusation (in Arabic, with
# its translation) and Turkey's denial, which responds to it.
_ACCUSATION_ID = "7a1e4b2c-9d3f-4e6a-8b5c-1f2d3e4a5b6c"
_SOURCE_ID = "5d8e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a"
_STATEMENT_AR = (
    "لم تفِ تركيا بالتزامات الاتفاق: "
    "ما زالت فصائل المعارضة والأسلحة الثقيلة في المنطقة منزوعة السلاح."
)
_STATEMENT_EN = (
    "Turkey has not met the obligations of the agreement: opposition groups and heavy "
    "weaponry are still in the demilitarised zone."
)
_TRANSLATOR = "Syrian Observatory for Human Rights"
_EXCERPT = (
    "the Syrian government accused the Turkish government of not meeting the obligations "
    "of the agreement"
)
_CITATION_IN = {"source_id": _SOURCE_ID, "excerpt": _EXCERPT, "locator": "paragraph 8"}
_SOURCE_IN = {
    "kind": "news_article",
    "title": "Dozens dead as Syria regime, opposition clash in the north",
    "publisher": "Middle East Monitor",
    "url": MEMO_URL,
}
_DENIAL_EXCERPT = "Turkey rejected the claim"
_DENIAL_TRANSLATION = {
    "language": "ar",
    "text": "لا توجد أي مشكلات في تنفيذ المذكرة.",
    "translator": "Google Translate",
    "machine": True,
}


class TranslationSchema(ma.Schema):
    language = LanguageTag(required=True, metadata={"description": "BCP 47 tag.", "example": "en"})
    text = _text(
        20000, "The translated statement.", required=True, metadata={"example": _STATEMENT_EN}
    )
    translator = _text(
        200,
        "Who translated it (a person, an organisation or a tool).",
        allow_none=True,
        metadata={"example": _TRANSLATOR},
    )
    machine = JSONBoolean(
        load_default=False,
        metadata={"description": "True for machine translation.", "example": False},
    )


class CitationInSchema(InputSchema):
    source_id = ma.fields.String(
        validate=ma.validate.Length(max=36),
        metadata={
            "description": "An existing source; or give `source` inline instead.",
            "example": _SOURCE_ID,
        },
    )
    source = ma.fields.Nested(
        SourceCreateSchema,
        metadata={"description": "A new source, recorded with the claim.", "example": _SOURCE_IN},
    )
    excerpt = _text(
        5000,
        "The passage that supports the claim.",
        allow_none=True,
        metadata={"example": _EXCERPT},
    )
    locator = _text(
        500,
        "Where in the source: page, paragraph, timestamp.",
        allow_none=True,
        metadata={"example": "paragraph 8"},
    )

    @ma.validates_schema
    def _one_source(self, data, **kwargs):
        if bool(data.get("source_id")) == bool(data.get("source")):
            raise ma.ValidationError({"source_id": ["give exactly one of source_id or source"]})


class CitationSchema(ma.Schema):
    source_id = ma.fields.String(
        metadata={"description": "The cited source.", "example": _SOURCE_ID}
    )
    excerpt = ma.fields.String(
        allow_none=True, metadata={"description": "Supporting passage.", "example": _DENIAL_EXCERPT}
    )
    locator = ma.fields.String(
        allow_none=True, metadata={"description": "Where in the source.", "example": "paragraph 8"}
    )
    source = ma.fields.Nested(
        SourceSchema,
        metadata={
            "description": "The source as you may see it.",
            "example": {"id": _SOURCE_ID, **_SOURCE_IN, "redacted": False},
        },
    )


def _asserts():
    return ma.fields.Dict(
        keys=fact_name_field(),
        validate=validate_asserts,
        metadata={
            "description": "Facts the claim states, by fact name (attributed_party, killed, "
            "injured, occurred_at, location.name, category, ...). A figure is a whole "
            "number or {low, best, high} with low <= best <= high.",
            "example": {"killed": {"best": 22}, "attributed_party": "syrian-government"},
            **asserts_json_schema(),
        },
    )


class ClaimPatchSchema(InputSchema):
    claimant = slug_field("The party making the claim.", metadata={"example": "syrian-government"})
    stance = ma.fields.String(
        validate=ma.validate.OneOf(STANCES),
        metadata={
            "description": "alleges, corroborates, acknowledges (the accused accepts), denies, "
            "disputes (contests details), explains (admits, another explanation).",
            "example": "alleges",
        },
    )
    responds_to = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(max=36),
        metadata={
            "description": "Another claim of the same violation, by id (GET "
            "/v1/violations/{id}/claims lists them): makes this a counterclaim; null for none.",
            # null: the example must work on any violation a reader tries it on.
            "example": None,
        },
    )
    statement = _text(
        20000, "The statement as made, in its own language.", metadata={"example": _STATEMENT_AR}
    )
    language = LanguageTag(
        allow_none=True, metadata={"description": "BCP 47 tag of the statement.", "example": "ar"}
    )
    translations = ma.fields.List(
        ma.fields.Nested(TranslationSchema),
        validate=ma.validate.Length(max=20),
        metadata={
            "description": "Translations of the statement.",
            "example": [
                {
                    "language": "en",
                    "text": _STATEMENT_EN,
                    "translator": _TRANSLATOR,
                    "machine": False,
                }
            ],
        },
    )
    made_at = UTCDateTime(
        allow_none=True,
        metadata={"description": "When it was said (UTC).", "example": "2018-10-16T00:00:00+00:00"},
    )
    asserts = _asserts()
    sources = ma.fields.List(
        ma.fields.Nested(CitationInSchema),
        validate=ma.validate.Length(max=50),
        metadata={"description": "Sources cited, by id or inline.", "example": [_CITATION_IN]},
    )
    credibility = JSONInteger(
        allow_none=True,
        validate=ma.validate.Range(min=1, max=6),
        metadata={
            "description": "Admiralty information credibility,"
            " 1 (confirmed) to 6 (cannot be judged).",
            "example": 3,
        },
    )


class ClaimCreateSchema(ClaimPatchSchema):
    claimant = slug_field(
        "The party making the claim.", required=True, metadata={"example": "syrian-government"}
    )
    stance = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(STANCES),
        metadata={
            "description": "alleges, corroborates, acknowledges, denies, disputes, explains.",
            "example": "alleges",
        },
    )
    statement = _text(
        20000,
        "The statement as made, in its own language.",
        required=True,
        metadata={"example": _STATEMENT_AR},
    )


class ClaimSchema(ma.Schema):
    id = ma.fields.String(
        metadata={"description": "UUID.", "example": "c2b9e0d4-5a6f-4b1e-9c3d-8e7f6a5b4c3d"}
    )
    violation_id = ma.fields.String(
        metadata={
            "description": "The violation it is about.",
            "example": "3f6c2a4e-8b1d-4c55-9a0e-2b7d5c1e9f10",
        }
    )
    claimant = ma.fields.String(
        metadata={"description": "Party making the claim.", "example": "turkey"}
    )
    stance = ma.fields.String(
        metadata={"description": "The claimant's stance.", "example": "denies"}
    )
    responds_to = ma.fields.String(
        allow_none=True, metadata={"description": "Claim answered.", "example": _ACCUSATION_ID}
    )
    statement = ma.fields.String(
        metadata={
            "description": "As made.",
            "example": "There are no issues in implementing the memorandum.",
        }
    )
    language = ma.fields.String(
        allow_none=True, metadata={"description": "BCP 47 tag.", "example": "en"}
    )
    translations = ma.fields.List(
        ma.fields.Nested(TranslationSchema),
        metadata={"description": "Translations.", "example": [_DENIAL_TRANSLATION]},
    )
    made_at = ma.fields.DateTime(
        allow_none=True, metadata={"description": "UTC.", "example": "2018-11-12T00:00:00+00:00"}
    )
    asserts = ma.fields.Dict(
        metadata={"description": "Facts stated.", "example": {"heavy_weapons_in_zone": False}}
    )
    sources = ma.fields.List(
        ma.fields.Nested(CitationSchema),
        metadata={
            "description": "Sources cited.",
            "example": [
                {"source_id": _SOURCE_ID, "excerpt": _DENIAL_EXCERPT, "locator": "paragraph 8"}
            ],
        },
    )
    credibility = ma.fields.Integer(
        allow_none=True, metadata={"description": "1 to 6.", "example": 6}
    )
    withdrawn = ma.fields.Boolean(
        metadata={"description": "Withdrawn claims stay, marked.", "example": False}
    )
    withdrawn_at = ma.fields.DateTime(
        allow_none=True, metadata={"description": "UTC.", "example": "2018-11-20T08:00:00+00:00"}
    )
    withdrawn_reason = ma.fields.String(
        allow_none=True,
        metadata={"description": "Why.", "example": "Recorded twice; the other copy stands."},
    )
    withdrawn_by = ma.fields.String(
        allow_none=True, metadata={"description": "Organisation.", "example": "sohr"}
    )
    created_by = ma.fields.String(
        metadata={"description": "Recording organisation.", "example": "sohr"}
    )
    created_at = ma.fields.DateTime(
        metadata={"description": "UTC.", "example": "2018-11-12T09:30:00+00:00"}
    )
    updated_at = ma.fields.DateTime(
        metadata={"description": "UTC.", "example": "2018-11-12T10:05:00+00:00"}
    )
    version = ma.fields.Integer(metadata={"description": "Row version.", "example": 1})


class WithdrawSchema(InputSchema):
    reason = _text(
        5000,
        "Why the claim is withdrawn.",
        required=True,
        metadata={"example": "Recorded twice by a retrying script; the other copy stands."},
    )


class ClaimListSchema(ma.Schema):
    items = ma.fields.List(
        ma.fields.Nested(ClaimSchema),
        metadata={"description": "Claims.", "example": [example_of(ClaimSchema)]},
    )
    next_cursor = ma.fields.String(
        allow_none=True,
        metadata={"description": "Always null: all claims in one page.", "example": None},
    )
