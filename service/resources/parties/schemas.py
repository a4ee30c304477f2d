"""Public contract of parties."""

import marshmallow as ma

from ..fields import LanguageTag, NoNul, refused_keywords, slug_field, text
from ..pages import list_of_page

PARTY_KINDS = (
    "state",
    "armed_force",
    "armed_group",
    "international_organisation",
    "monitor",
    "media",
    "civilians",
    "other",
)
AFFILIATION_RELATIONS = (
    "backed_by",
    "allied_with",
    "part_of",
    "guarantor_for",
    "opposed_to",
    "formerly",
    "other",
)


class AffiliationSchema(ma.Schema):
    relation = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(AFFILIATION_RELATIONS),
        metadata={"description": "How the two parties are linked.", "example": "backed_by"},
    )
    party = slug_field("The other party's id.", required=True, metadata={"example": "turkey"})


MAX_NAMES = 50


def _at_most_names(value: dict) -> None:
    # A plain function, not Length: apispec documents Length on a Dict as maxLength, which
    # JSON Schema ignores for objects; maxProperties below is the keyword that applies.
    if len(value) > MAX_NAMES:
        raise ma.ValidationError(f"at most {MAX_NAMES} languages")


def _names_field(example=None):
    return ma.fields.Dict(
        keys=LanguageTag(),
        values=ma.fields.String(
            validate=ma.validate.Length(min=1, max=200), metadata=refused_keywords()
        ),
        validate=_at_most_names,
        metadata={
            "description": "Name by BCP 47 language tag.",
            "example": example or {"ar": "الحكومة السورية"},
            "maxProperties": MAX_NAMES,
        },
    )


def _aliases_field(example=None):
    return ma.fields.List(
        ma.fields.String(
            validate=ma.validate.Length(min=1, max=200), metadata=refused_keywords()
        ),
        validate=ma.validate.Length(max=100),
        metadata={
            "description": "Other spellings; look-up ignores case and accents.",
            "example": example or ["Syrian regime", "Assad regime"],
        },
    )


class PartyCreateSchema(NoNul):
    # The example is a party the seeds do not hold, so that "Try it out" can create it.
    id = slug_field(
        "Readable slug, chosen by the creator.",
        required=True,
        metadata={"example": "national-front-for-liberation"},
    )
    name = text(
        200,
        "Name in English.",
        required=True,
        metadata={"example": "National Front for Liberation"},
    )
    kind = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(PARTY_KINDS),
        metadata={"description": "What sort of actor.", "example": "armed_group"},
    )
    names = _names_field({"ar": "الجبهة الوطنية للتحرير"})
    aliases = _aliases_field(["NFL", "National Liberation Front"])
    affiliations = ma.fields.List(
        ma.fields.Nested(AffiliationSchema),
        validate=ma.validate.Length(max=50),
        metadata={
            "description": "Links to other parties.",
            "example": [{"relation": "backed_by", "party": "turkey"}],
        },
    )
    description = text(
        5000,
        "Free text about the party.",
        allow_none=True,
        metadata={"example": "A coalition of opposition factions in Idlib, formed in 2018."},
    )


class PartyPatchSchema(NoNul):
    name = text(200, "Name in English.", metadata={"example": "Government of Syria"})
    kind = ma.fields.String(
        validate=ma.validate.OneOf(PARTY_KINDS),
        metadata={"description": "What sort of actor.", "example": "state"},
    )
    names = _names_field()
    aliases = _aliases_field()
    affiliations = ma.fields.List(
        ma.fields.Nested(AffiliationSchema),
        validate=ma.validate.Length(max=50),
        metadata={
            "description": "Links to other parties.",
            "example": [{"relation": "backed_by", "party": "russia"}],
        },
    )
    description = text(
        5000,
        "Free text about the party.",
        allow_none=True,
        metadata={"example": "Governs from Damascus; backed by Russia."},
    )


class PartySchema(PartyCreateSchema):
    created_by_org = ma.fields.String(
        dump_only=True,
        data_key="created_by",
        metadata={"description": "Organisation that created it.", "example": "sohr"},
    )
    created_at = ma.fields.DateTime(
        dump_only=True, metadata={"description": "UTC.", "example": "2018-11-12T09:30:00+00:00"}
    )
    updated_at = ma.fields.DateTime(
        dump_only=True, metadata={"description": "UTC.", "example": "2018-11-12T10:05:00+00:00"}
    )
    version = ma.fields.Integer(
        dump_only=True, metadata={"description": "Row version.", "example": 2}
    )


class PartyQueryArgs(NoNul):
    q = ma.fields.String(
        validate=ma.validate.Length(min=1, max=200),
        metadata={
            **refused_keywords(),
            "description": "Matches names and aliases, ignoring case and accents.",
            "example": "tahrir al-sham",
        },
    )
    kind = ma.fields.String(
        validate=ma.validate.OneOf(PARTY_KINDS),
        metadata={"description": "Only parties of this kind.", "example": "armed_group"},
    )


PartyPageSchema = list_of_page(PartySchema, "PartyPage")
