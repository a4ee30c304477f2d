"""Public contract of claims and counterclaims."""

import marshmallow as ma

from ..common import slug_field
from ..common import text as _text
from ..fields import InputSchema, LanguageTag, UTCDateTime, validate_asserts
from ..sources.schemas import SourceCreateSchema, SourceSchema

STANCES = ("alleges", "corroborates", "acknowledges", "denies", "disputes", "explains")


class TranslationSchema(ma.Schema):
    language = LanguageTag(required=True, metadata={"description": "BCP 47 tag.", "example": "en"})
    text = _text(20000, "The translated statement.", required=True)
    translator = _text(
        200, "Who translated it (a person, an organisation or a tool).", allow_none=True
    )
    machine = ma.fields.Boolean(
        load_default=False, metadata={"description": "True for machine translation."}
    )


class CitationInSchema(InputSchema):
    source_id = ma.fields.String(
        validate=ma.validate.Length(max=36),
        metadata={"description": "An existing source; or give `source` inline instead."},
    )
    source = ma.fields.Nested(
        SourceCreateSchema, metadata={"description": "A new source, recorded with the claim."}
    )
    excerpt = _text(5000, "The passage that supports the claim.", allow_none=True)
    locator = _text(500, "Where in the source: page, paragraph, timestamp.", allow_none=True)

    @ma.validates_schema
    def _one_source(self, data, **kwargs):
        if bool(data.get("source_id")) == bool(data.get("source")):
            raise ma.ValidationError({"source_id": ["give exactly one of source_id or source"]})


class CitationSchema(ma.Schema):
    source_id = ma.fields.String(metadata={"description": "The cited source."})
    excerpt = ma.fields.String(allow_none=True, metadata={"description": "Supporting passage."})
    locator = ma.fields.String(allow_none=True, metadata={"description": "Where in the source."})
    source = ma.fields.Nested(
        SourceSchema, metadata={"description": "The source as you may see it."}
    )


def _asserts():
    return ma.fields.Dict(
        keys=ma.fields.String(),
        validate=validate_asserts,
        metadata={
            "description": "Facts the claim states, by fact name (attributed_party, killed, "
            "injured, occurred_at, location.name, category, ...). A figure is a "
            "number or {low, best, high}.",
            "example": {"killed": {"best": 22}, "attributed_party": "syrian-government"},
        },
    )


class ClaimPatchSchema(InputSchema):
    claimant = slug_field("The party making the claim.")
    stance = ma.fields.String(
        validate=ma.validate.OneOf(STANCES),
        metadata={
            "description": "alleges, corroborates, acknowledges (the accused accepts), denies, "
            "disputes (contests details), explains (admits, another explanation)."
        },
    )
    responds_to = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(max=36),
        metadata={"description": "Another claim of the same violation: makes this a counterclaim."},
    )
    statement = _text(20000, "The statement as made, in its own language.")
    language = LanguageTag(
        allow_none=True, metadata={"description": "BCP 47 tag of the statement.", "example": "ar"}
    )
    translations = ma.fields.List(
        ma.fields.Nested(TranslationSchema),
        validate=ma.validate.Length(max=20),
        metadata={"description": "Translations of the statement."},
    )
    made_at = UTCDateTime(allow_none=True, metadata={"description": "When it was said (UTC)."})
    asserts = _asserts()
    sources = ma.fields.List(
        ma.fields.Nested(CitationInSchema),
        validate=ma.validate.Length(max=50),
        metadata={"description": "Sources cited, by id or inline."},
    )
    credibility = ma.fields.Integer(
        allow_none=True,
        validate=ma.validate.Range(min=1, max=6),
        metadata={
            "description": "Admiralty information credibility,"
            " 1 (confirmed) to 6 (cannot be judged)."
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
    statement = _text(20000, "The statement as made, in its own language.", required=True)


class ClaimSchema(ma.Schema):
    id = ma.fields.String(metadata={"description": "UUID."})
    violation_id = ma.fields.String(metadata={"description": "The violation it is about."})
    claimant = ma.fields.String(metadata={"description": "Party making the claim."})
    stance = ma.fields.String(metadata={"description": "The claimant's stance."})
    responds_to = ma.fields.String(allow_none=True, metadata={"description": "Claim answered."})
    statement = ma.fields.String(metadata={"description": "As made."})
    language = ma.fields.String(allow_none=True, metadata={"description": "BCP 47 tag."})
    translations = ma.fields.List(
        ma.fields.Nested(TranslationSchema), metadata={"description": "Translations."}
    )
    made_at = ma.fields.DateTime(allow_none=True, metadata={"description": "UTC."})
    asserts = ma.fields.Dict(metadata={"description": "Facts stated."})
    sources = ma.fields.List(
        ma.fields.Nested(CitationSchema), metadata={"description": "Sources cited."}
    )
    credibility = ma.fields.Integer(allow_none=True, metadata={"description": "1 to 6."})
    withdrawn = ma.fields.Boolean(metadata={"description": "Withdrawn claims stay, marked."})
    withdrawn_at = ma.fields.DateTime(allow_none=True, metadata={"description": "UTC."})
    withdrawn_reason = ma.fields.String(allow_none=True, metadata={"description": "Why."})
    withdrawn_by = ma.fields.String(allow_none=True, metadata={"description": "Organisation."})
    created_by = ma.fields.String(metadata={"description": "Recording organisation."})
    created_at = ma.fields.DateTime(metadata={"description": "UTC."})
    updated_at = ma.fields.DateTime(metadata={"description": "UTC."})
    version = ma.fields.Integer(metadata={"description": "Row version."})


class WithdrawSchema(InputSchema):
    reason = _text(5000, "Why the claim is withdrawn.", required=True)


class ClaimListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ClaimSchema), metadata={"description": "Claims."})
    next_cursor = ma.fields.String(
        allow_none=True, metadata={"description": "Always null: all claims in one page."}
    )
