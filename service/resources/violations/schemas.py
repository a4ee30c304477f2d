"""Public contract of violations."""

import re
from datetime import timedelta

import marshmallow as ma

from ..claims.schemas import ClaimCreateSchema, ClaimSchema
from ..fields import (
    CATEGORIES,
    CountryCode,
    FigureSchema,
    InputSchema,
    JSONNumber,
    NoNul,
    UTCDateTime,
    refused_keywords,
    slug_field,
    text,
)
from ..pages import list_of_page
from ..spec import example_of

DATE_PRECISIONS = ("exact", "day", "week", "month")
LOCATION_PRECISIONS = ("exact", "near", "admin2", "admin1", "country")
STATUSES = ("reported", "corroborated", "disputed", "confirmed", "refuted", "retracted")
VERDICTS = ("confirmed", "refuted", "retracted", "reopened")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Examples shown in the documentation: the shelling of Halfaya on Friday 9 November 2018 (local
# day, UTC+2), and Turkey's denial of the Syrian government's accusation.
_VIOLATION_ID = "3f6c2a4e-8b1d-4c55-9a0e-2b7d5c1e9f10"
_CLAIM_ID = "7a1e4b2c-9d3f-4e6a-8b5c-1f2d3e4a5b6c"
_SOHR_CLAIM_ID = "e4d3c2b1-6a5f-4e8d-9c7b-0a1b2c3d4e5f"
_TITLE = "Shelling of Halfaya and Al-Lataminah"
_LOCATION = {
    "name": "Halfaya",
    "admin1": "Hama",
    "admin2": "Muhardah",
    "country": "SY",
    "lat": 35.2603,
    "lon": 36.6075,
    "precision": "near",
}
_KILLED = {"low": 20, "best": 22, "high": 25}
_CIVILIAN = {"killed": {"best": 0}, "injured": {"best": 2}}
_CASUALTIES = {"killed": _KILLED, "injured": {"best": 14}, "civilian": _CIVILIAN}
_STATUS_CHANGE = {
    "from": "disputed",
    "to": "refuted",
    "by": "sohr",
    "at": "2018-11-20T14:00:00+00:00",
    "reason": "Imagery of 10 November shows no heavy weapons at the positions named.",
    "verdict": "refuted",
}
_CONTESTED_VALUES = [
    {"value": 22, "claims": [_CLAIM_ID], "claimants": ["middle-east-monitor"]},
    {"value": 30, "claims": [_SOHR_CLAIM_ID], "claimants": ["sohr"]},
]
_CLAIM_IN = {
    "claimant": "middle-east-monitor",
    "stance": "alleges",
    "statement": "Regime shelling targeted the village of Halfaya and Al-Lataminah on Friday, "
    "resulting in the deaths of some 22 fighters belonging to the Jaysh Al-Izza faction.",
    "language": "en",
    "made_at": "2018-11-12T00:00:00+00:00",
    "asserts": {"attributed_party": "syrian-government", "killed": {"best": 22}},
    "sources": [{"source_id": "5d8e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a", "locator": "paragraph 2"}],
}
_HISTORY_ENTRY = {
    "seq": 1187,
    "at": "2018-11-12T10:05:00+00:00",
    "actor": "sohr",
    "action": "update",
    "entity": "violation",
    "entity_id": _VIOLATION_ID,
    "changes": {"killed_best": {"from": 20, "to": 22}},
}


class LocationSchema(ma.Schema):
    name = text(200, "Place name as reported.", allow_none=True, metadata={"example": "Halfaya"})
    admin1 = text(
        200,
        "First-level administrative area (governorate, province).",
        allow_none=True,
        metadata={"example": "Hama"},
    )
    admin2 = text(
        200,
        "Second-level administrative area (district).",
        allow_none=True,
        metadata={"example": "Muhardah"},
    )
    country = CountryCode(
        allow_none=True, metadata={"description": "ISO 3166-1 alpha-2.", "example": "SY"}
    )
    lat = JSONNumber(
        allow_none=True,
        validate=ma.validate.Range(min=-90, max=90),
        metadata={"description": "Latitude, WGS 84.", "example": 35.2603},
    )
    lon = JSONNumber(
        allow_none=True,
        validate=ma.validate.Range(min=-180, max=180),
        metadata={"description": "Longitude, WGS 84.", "example": 36.6075},
    )
    precision = ma.fields.String(
        allow_none=True,
        validate=ma.validate.OneOf(LOCATION_PRECISIONS),
        metadata={
            "description": "exact, near (within 25 km), admin2, admin1, country.",
            "example": "near",
        },
    )

    @ma.validates_schema
    def _both_coordinates(self, data, **kwargs):
        if (data.get("lat") is None) != (data.get("lon") is None):
            missing = "lon" if data.get("lon") is None else "lat"
            raise ma.ValidationError({missing: ["lat and lon go together"]})


class CivilianSchema(ma.Schema):
    killed = ma.fields.Nested(
        FigureSchema,
        allow_none=True,
        metadata={"description": "Civilians killed.", "example": _CIVILIAN["killed"]},
    )
    injured = ma.fields.Nested(
        FigureSchema,
        allow_none=True,
        metadata={"description": "Civilians injured.", "example": _CIVILIAN["injured"]},
    )


class CasualtiesSchema(ma.Schema):
    killed = ma.fields.Nested(
        FigureSchema,
        allow_none=True,
        metadata={"description": "People killed.", "example": _KILLED},
    )
    injured = ma.fields.Nested(
        FigureSchema,
        allow_none=True,
        metadata={"description": "People injured.", "example": _CASUALTIES["injured"]},
    )
    civilian = ma.fields.Nested(
        CivilianSchema,
        allow_none=True,
        metadata={"description": "Of which civilians.", "example": _CIVILIAN},
    )

    @ma.validates_schema
    def _civilians_within_total(self, data, **kwargs):
        errors = {}
        for group in ("killed", "injured"):
            total = data.get(group) or {}
            civ = (data.get("civilian") or {}).get(group) or {}
            for figure in ("low", "best", "high"):
                t, c = total.get(figure), civ.get(figure)
                if t is not None and c is not None and c > t:
                    errors.setdefault("civilian", {}).setdefault(group, {})[figure] = [
                        f"must not exceed {group}.{figure} ({t})"
                    ]
        if errors:
            raise ma.ValidationError(errors)


class _ViolationFields(ma.Schema):
    title = text(300, "Short title.", metadata={"example": "Shelling of Halfaya and Al-Lataminah"})
    description = text(
        20000,
        "What is alleged to have happened.",
        allow_none=True,
        metadata={
            "example": "Regime shelling targeted Halfaya and Al-Lataminah in the Hama "
            "countryside, killing some 22 fighters of the Jaysh al-Izza faction."
        },
    )
    category = ma.fields.String(
        validate=ma.validate.OneOf(CATEGORIES),
        metadata={
            "description": "Kind of breach; not every breach is kinetic.",
            "example": "shelling",
        },
    )
    occurred_at = UTCDateTime(
        metadata={
            "description": "Earliest possible time (UTC).",
            "example": "2018-11-09T00:00:00+00:00",
        }
    )
    occurred_until = UTCDateTime(
        allow_none=True,
        metadata={
            "description": "Latest possible time (UTC); absent when exact.",
            "example": "2018-11-09T21:59:59+00:00",
        },
    )
    date_precision = ma.fields.String(
        validate=ma.validate.OneOf(DATE_PRECISIONS),
        metadata={"description": "exact, day, week or month.", "example": "day"},
    )
    location = ma.fields.Nested(
        LocationSchema,
        allow_none=True,
        metadata={
            "description": "Where; a PATCH replaces the whole location.",
            "example": _LOCATION,
        },
    )
    agreement = slug_field(
        "The agreement allegedly breached.", allow_none=True, metadata={"example": "sochi-2018"}
    )
    provisions = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=64), metadata=refused_keywords()),
        validate=ma.validate.Length(max=50),
        metadata={"description": "Codes of the provisions breached.", "example": ["dmz-15km"]},
    )
    attributed_party = slug_field(
        "Alleged perpetrator; absent when unknown.",
        allow_none=True,
        metadata={"example": "syrian-government"},
    )
    affected_parties = ma.fields.List(
        slug_field("A party id.", metadata={"example": "jaysh-al-izza"}),
        validate=ma.validate.Length(max=50),
        metadata={
            "description": "Parties affected, each once.",
            "example": ["jaysh-al-izza"],
            "uniqueItems": True,
        },
    )
    casualties = ma.fields.Nested(
        CasualtiesSchema,
        allow_none=True,
        metadata={
            "description": "The reporting monitor's own estimate; a PATCH replaces it whole.",
            "example": _CASUALTIES,
        },
    )
    tags = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=64), metadata=refused_keywords()),
        validate=ma.validate.Length(max=50),
        metadata={"description": "Free tags.", "example": ["hama-countryside"]},
    )


def _check_interval(data):
    start, end = data.get("occurred_at"), data.get("occurred_until")
    if start is not None and end is not None and end < start:
        raise ma.ValidationError({"occurred_until": ["must not be before occurred_at"]})


def _unique_affected(data):
    affected = data.get("affected_parties") or []
    if len(set(affected)) != len(affected):
        raise ma.ValidationError({"affected_parties": ["lists a party twice"]})


class ViolationPatchSchema(InputSchema, _ViolationFields):
    @ma.validates_schema
    def _consistent(self, data, **kwargs):
        _check_interval(data)
        _unique_affected(data)


class ViolationCreateSchema(ViolationPatchSchema):
    title = text(300, "Short title.", required=True, metadata={"example": _TITLE})
    category = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(CATEGORIES),
        metadata={"description": "Kind of breach.", "example": "shelling"},
    )
    occurred_at = UTCDateTime(
        required=True,
        metadata={
            "description": "Earliest possible time (UTC).",
            "example": "2018-11-08T22:00:00+00:00",
        },
    )
    date_precision = ma.fields.String(
        load_default="exact",
        validate=ma.validate.OneOf(DATE_PRECISIONS),
        metadata={"description": "exact, day, week or month.", "example": "day"},
    )
    claims = ma.fields.List(
        ma.fields.Nested(ClaimCreateSchema),
        validate=ma.validate.Length(max=100),
        metadata={
            "description": "Claims recorded with the violation, in the same transaction.",
            "example": [_CLAIM_IN],
        },
    )


class StatusChangeSchema(ma.Schema):
    from_ = ma.fields.String(
        data_key="from",
        attribute="from",
        allow_none=True,
        metadata={"description": "Status before.", "example": _STATUS_CHANGE["from"]},
    )
    to = ma.fields.String(
        metadata={"description": "Status after.", "example": _STATUS_CHANGE["to"]}
    )
    by = ma.fields.String(
        allow_none=True, metadata={"description": "Organisation.", "example": _STATUS_CHANGE["by"]}
    )
    at = ma.fields.DateTime(metadata={"description": "UTC.", "example": _STATUS_CHANGE["at"]})
    reason = ma.fields.String(metadata={"description": "Why.", "example": _STATUS_CHANGE["reason"]})
    verdict = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "The verdict that set it, if any.",
            "example": _STATUS_CHANGE["verdict"],
        },
    )


class ContestedValueSchema(ma.Schema):
    value = ma.fields.Raw(metadata={"description": "The value asserted.", "example": 22})
    claims = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "Claims asserting it.", "example": [_CLAIM_ID]},
    )
    claimants = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "Their claimants.", "example": ["middle-east-monitor"]},
    )


class ContestedFactSchema(ma.Schema):
    fact = ma.fields.String(metadata={"description": "Fact name.", "example": "killed"})
    values = ma.fields.List(
        ma.fields.Nested(ContestedValueSchema),
        metadata={"description": "Each value with who asserts it.", "example": _CONTESTED_VALUES},
    )


class SpanSchema(ma.Schema):
    low = ma.fields.Integer(
        metadata={"description": "Lowest figure any live claim gives.", "example": 22}
    )
    high = ma.fields.Integer(
        metadata={"description": "Highest figure any live claim gives.", "example": 30}
    )


class ViolationSummarySchema(_ViolationFields):
    id = ma.fields.String(metadata={"description": "UUID.", "example": _VIOLATION_ID})
    status = ma.fields.String(
        metadata={"description": "One of " + ", ".join(STATUSES), "example": "disputed"}
    )
    in_agreement_zone = ma.fields.Boolean(
        allow_none=True,
        metadata={
            "description": "Inside the agreement's zone; null when either is unknown.",
            "example": True,
        },
    )
    claim_count = ma.fields.Integer(metadata={"description": "Number of claims.", "example": 2})
    reported_by = ma.fields.String(
        metadata={"description": "Reporting organisation.", "example": "sohr"}
    )
    created_at = ma.fields.DateTime(
        metadata={"description": "UTC.", "example": "2018-11-12T09:30:00+00:00"}
    )
    updated_at = ma.fields.DateTime(
        metadata={"description": "UTC.", "example": "2018-11-12T10:05:00+00:00"}
    )
    version = ma.fields.Integer(metadata={"description": "Row version.", "example": 3})


class ViolationSchema(ViolationSummarySchema):
    status_history = ma.fields.List(
        ma.fields.Nested(StatusChangeSchema),
        metadata={"description": "Every status change.", "example": [_STATUS_CHANGE]},
    )
    contested_facts = ma.fields.List(
        ma.fields.Nested(ContestedFactSchema),
        metadata={
            "description": "Facts two live claims assert differently.",
            "example": [{"fact": "killed", "values": _CONTESTED_VALUES}],
        },
    )
    claimed_casualties = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(SpanSchema),
        metadata={
            "description": "Range the claims' figures span, per fact (killed, injured, ...).",
            "example": {"killed": {"low": 22, "high": 30}},
        },
    )
    claims = ma.fields.List(
        ma.fields.Nested(ClaimSchema),
        metadata={"description": "Claims.", "example": [example_of(ClaimSchema)]},
    )


class _TimeBound(UTCDateTime):
    """An ISO 8601 time, or a date: a date bounding a range from above means its whole day."""

    def __init__(self, *, end_of_day: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.end_of_day = end_of_day

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        if self.end_of_day and isinstance(value, str) and _DATE_ONLY.match(value.strip()):
            moment = moment + timedelta(days=1) - timedelta(microseconds=1)
        return moment


# A longitude or latitude in plain decimal notation (ASCII digits; no exponent, no leading zeros),
# within its range; the bbox is four of them. minLon <= maxLon and minLat <= maxLat are checked
# besides (a pattern cannot compare numbers).
_NUMBER = r"-?[0-9]+(?:\.[0-9]+)?"
_LON = r"-?(?:180(?:\.0+)?|(?:1[0-7][0-9]|[1-9]?[0-9])(?:\.[0-9]+)?)"
_LAT = r"-?(?:90(?:\.0+)?|[1-8]?[0-9](?:\.[0-9]+)?)"
BBOX_PATTERN = f"^{_LON},{_LAT},{_LON},{_LAT}$"
_BBOX = re.compile(BBOX_PATTERN)
_FOUR_NUMBERS = re.compile(f"{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}")
_BBOX_SHAPE = "must be four numbers: minLon,minLat,maxLon,maxLat"
MAX_BBOX_LENGTH = 100


class _BBox(ma.fields.String):
    """minLon,minLat,maxLon,maxLat in WGS 84 degrees."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if len(value) > MAX_BBOX_LENGTH:
            raise ma.ValidationError(f"is longer than {MAX_BBOX_LENGTH} characters")
        if not _FOUR_NUMBERS.fullmatch(value):
            raise ma.ValidationError(_BBOX_SHAPE)
        min_lon, min_lat, max_lon, max_lat = (float(p) for p in value.split(","))
        problems = []
        if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
            problems.append("longitudes must lie in -180..180")
        if not (-90 <= min_lat <= 90 and -90 <= max_lat <= 90):
            problems.append("latitudes must lie in -90..90")
        if not problems and not _BBOX.fullmatch(value):
            problems.append(_BBOX_SHAPE + " (plain decimals without leading zeros)")
        if min_lon > max_lon:
            problems.append("minLon must not exceed maxLon")
        if min_lat > max_lat:
            problems.append("minLat must not exceed maxLat")
        if problems:
            raise ma.ValidationError(problems)
        return (min_lon, min_lat, max_lon, max_lat)


class _TriState(ma.fields.Field):
    """true, false, or null (not known)."""

    VALUES = {"true": True, "false": False, "null": None}

    def _deserialize(self, value, attr, data, **kwargs):
        key = str(value).strip().lower()
        if key not in self.VALUES:
            raise ma.ValidationError("must be true, false or null")
        return self.VALUES[key]


def _has_words(value: str) -> None:
    from ...core.search import search_terms

    if not search_terms(value):
        raise ma.ValidationError("has no words to search for")


class ViolationQueryArgs(NoNul):
    """The filters of the list, the export and the stats; all combine (AND)."""

    # The examples, all together as "Try it out" pre-fills them, find the seeds' Halfaya shelling.

    occurred_from = _TimeBound(
        metadata={
            "description": "Only violations whose interval [occurred_at, occurred_until] ends "
            "at or after this time (ISO 8601; a date means its start).",
            "example": "2018-11-01T00:00:00Z",
        }
    )
    occurred_to = _TimeBound(
        end_of_day=True,
        metadata={
            "description": "Only violations whose interval starts at or before this time "
            "(ISO 8601; a date means its whole day).",
            "example": "2018-11-30T23:59:59Z",
        },
    )
    attributed_party = slug_field(
        "Only violations attributed to this party. A party nobody recorded is 422, with the "
        "closest known ids.",
        metadata={"example": "syrian-government"},
    )
    affected_party = slug_field(
        "Only violations that affected this party. A party nobody recorded is 422, with the "
        "closest known ids.",
        metadata={"example": "jaysh-al-izza"},
    )
    claimant = slug_field(
        "Only violations about which this party made a claim (withdrawn too)."
        " A party nobody recorded is 422, with the closest known ids.",
        metadata={"example": "middle-east-monitor"},
    )
    status = ma.fields.String(
        validate=ma.validate.OneOf(STATUSES),
        metadata={"description": "Only this status.", "example": "reported"},
    )
    category = ma.fields.String(
        validate=ma.validate.OneOf(CATEGORIES),
        metadata={"description": "Only this category.", "example": "shelling"},
    )
    agreement = slug_field(
        "Only violations of this agreement. An agreement nobody recorded is 422, with the "
        "closest known ids.",
        metadata={"example": "sochi-2018"},
    )
    country = CountryCode(metadata={"description": "ISO 3166-1 alpha-2.", "example": "SY"})
    admin1 = text(
        200, "Only this first-level area, exactly as recorded.", metadata={"example": "Hama"}
    )
    bbox = _BBox(
        metadata={
            "description": "minLon,minLat,maxLon,maxLat (WGS 84): only violations with "
            "coordinates inside the box, edges included; minLon <= maxLon, minLat <= maxLat.",
            "pattern": BBOX_PATTERN,
            "maxLength": MAX_BBOX_LENGTH,
            "example": "36.0,35.0,37.5,36.5",
        }
    )
    in_agreement_zone = _TriState(
        metadata={
            "description": "true, false, or null for violations where it is not known.",
            "type": "string",
            "enum": ["true", "false", "null"],
            "example": "true",
        }
    )
    q = ma.fields.String(
        validate=[ma.validate.Length(min=1, max=200), _has_words],
        metadata={
            **refused_keywords(),
            "description": "Full text over title, description, claim statements and their "
            "translations: every word must occur (case and accents ignored); `word*` matches "
            "a prefix. It needs at least one word (letters or digits, in any script).",
            "example": "halfaya shell*",
        },
    )
    updated_since = UTCDateTime(
        metadata={
            "description": "Only violations changed at or after this time (ISO 8601).",
            "example": "2018-11-12T00:00:00+00:00",
        }
    )

    @ma.validates_schema
    def _range_in_order(self, data, **kwargs):
        start, end = data.get("occurred_from"), data.get("occurred_to")
        if start is not None and end is not None and end < start:
            raise ma.ValidationError({"occurred_to": ["must not be before occurred_from"]})


class VerdictSchema(InputSchema):
    verdict = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(VERDICTS),
        metadata={
            "description": "confirmed/refuted/reopened (verifiers), retracted (reporting "
            "organisation or admin).",
            "example": "refuted",
        },
    )
    reason = text(
        5000,
        "Rationale; required.",
        required=True,
        metadata={"example": _STATUS_CHANGE["reason"]},
    )


class HistoryEntrySchema(ma.Schema):
    seq = ma.fields.Integer(
        metadata={"description": "Position in the audit log.", "example": _HISTORY_ENTRY["seq"]}
    )
    at = ma.fields.DateTime(metadata={"description": "UTC.", "example": _HISTORY_ENTRY["at"]})
    actor = ma.fields.String(
        allow_none=True,
        metadata={"description": "Organisation.", "example": _HISTORY_ENTRY["actor"]},
    )
    action = ma.fields.String(
        metadata={
            "description": "create, update, withdraw, verdict.",
            "example": _HISTORY_ENTRY["action"],
        }
    )
    entity = ma.fields.String(
        metadata={"description": "violation or claim.", "example": _HISTORY_ENTRY["entity"]}
    )
    entity_id = ma.fields.String(
        metadata={"description": "Its id.", "example": _HISTORY_ENTRY["entity_id"]}
    )
    changes = ma.fields.Dict(
        metadata={"description": "What changed.", "example": _HISTORY_ENTRY["changes"]}
    )


class HistorySchema(ma.Schema):
    items = ma.fields.List(
        ma.fields.Nested(HistoryEntrySchema),
        metadata={"description": "Oldest first.", "example": [_HISTORY_ENTRY]},
    )


ViolationPageSchema = list_of_page(ViolationSummarySchema, "ViolationPage")
