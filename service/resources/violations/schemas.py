"""Public contract of violations."""

import math
import re
from datetime import timedelta

import marshmallow as ma

from ..claims.schemas import ClaimCreateSchema, ClaimSchema
from ..common import list_of_page, slug_field, text
from ..fields import CountryCode, FigureSchema, InputSchema, UTCDateTime

CATEGORIES = (
    "shelling",
    "airstrike",
    "ground_assault",
    "drone_strike",
    "sniping",
    "heavy_weapons_in_zone",
    "troop_movement",
    "crossing_closure",
    "non_compliance",
    "other",
)
DATE_PRECISIONS = ("exact", "day", "week", "month")
LOCATION_PRECISIONS = ("exact", "near", "admin2", "admin1", "country")
STATUSES = ("reported", "corroborated", "disputed", "confirmed", "refuted", "retracted")
VERDICTS = ("confirmed", "refuted", "retracted", "reopened")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class LocationSchema(ma.Schema):
    name = text(200, "Place name as reported.", allow_none=True, metadata={"example": "Halfaya"})
    admin1 = text(
        200,
        "First-level administrative area (governorate, province).",
        allow_none=True,
        metadata={"example": "Hama"},
    )
    admin2 = text(200, "Second-level administrative area (district).", allow_none=True)
    country = CountryCode(
        allow_none=True, metadata={"description": "ISO 3166-1 alpha-2.", "example": "SY"}
    )
    lat = ma.fields.Float(
        allow_none=True,
        validate=ma.validate.Range(min=-90, max=90),
        metadata={"description": "Latitude, WGS 84.", "example": 35.2603},
    )
    lon = ma.fields.Float(
        allow_none=True,
        validate=ma.validate.Range(min=-180, max=180),
        metadata={"description": "Longitude, WGS 84.", "example": 36.6075},
    )
    precision = ma.fields.String(
        allow_none=True,
        validate=ma.validate.OneOf(LOCATION_PRECISIONS),
        metadata={"description": "exact, near (within 25 km), admin2, admin1, country."},
    )

    @ma.validates_schema
    def _both_coordinates(self, data, **kwargs):
        if (data.get("lat") is None) != (data.get("lon") is None):
            missing = "lon" if data.get("lon") is None else "lat"
            raise ma.ValidationError({missing: ["lat and lon go together"]})


class CivilianSchema(ma.Schema):
    killed = ma.fields.Nested(
        FigureSchema, allow_none=True, metadata={"description": "Civilians killed."}
    )
    injured = ma.fields.Nested(
        FigureSchema, allow_none=True, metadata={"description": "Civilians injured."}
    )


class CasualtiesSchema(ma.Schema):
    killed = ma.fields.Nested(
        FigureSchema, allow_none=True, metadata={"description": "People killed."}
    )
    injured = ma.fields.Nested(
        FigureSchema, allow_none=True, metadata={"description": "People injured."}
    )
    civilian = ma.fields.Nested(
        CivilianSchema, allow_none=True, metadata={"description": "Of which civilians."}
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
    description = text(20000, "What is alleged to have happened.", allow_none=True)
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
        allow_none=True, metadata={"description": "Latest possible time (UTC); absent when exact."}
    )
    date_precision = ma.fields.String(
        validate=ma.validate.OneOf(DATE_PRECISIONS),
        metadata={"description": "exact, day, week or month."},
    )
    location = ma.fields.Nested(
        LocationSchema,
        allow_none=True,
        metadata={"description": "Where; a PATCH replaces the whole location."},
    )
    agreement = slug_field(
        "The agreement allegedly breached.", allow_none=True, metadata={"example": "sochi-2018"}
    )
    provisions = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=64)),
        validate=ma.validate.Length(max=50),
        metadata={"description": "Codes of the provisions breached."},
    )
    attributed_party = slug_field("Alleged perpetrator; absent when unknown.", allow_none=True)
    affected_parties = ma.fields.List(
        slug_field("A party id."),
        validate=ma.validate.Length(max=50),
        metadata={"description": "Parties affected."},
    )
    casualties = ma.fields.Nested(
        CasualtiesSchema,
        allow_none=True,
        metadata={
            "description": "The reporting monitor's own estimate; a PATCH replaces it whole."
        },
    )
    tags = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=64)),
        validate=ma.validate.Length(max=50),
        metadata={"description": "Free tags."},
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
    title = text(300, "Short title.", required=True)
    category = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(CATEGORIES),
        metadata={"description": "Kind of breach.", "example": "shelling"},
    )
    occurred_at = UTCDateTime(
        required=True, metadata={"description": "Earliest possible time (UTC)."}
    )
    date_precision = ma.fields.String(
        load_default="exact",
        validate=ma.validate.OneOf(DATE_PRECISIONS),
        metadata={"description": "exact, day, week or month."},
    )
    claims = ma.fields.List(
        ma.fields.Nested(ClaimCreateSchema),
        validate=ma.validate.Length(max=100),
        metadata={"description": "Claims recorded with the violation, in the same transaction."},
    )


class StatusChangeSchema(ma.Schema):
    from_ = ma.fields.String(
        data_key="from",
        attribute="from",
        allow_none=True,
        metadata={"description": "Status before."},
    )
    to = ma.fields.String(metadata={"description": "Status after."})
    by = ma.fields.String(allow_none=True, metadata={"description": "Organisation."})
    at = ma.fields.DateTime(metadata={"description": "UTC."})
    reason = ma.fields.String(metadata={"description": "Why."})
    verdict = ma.fields.String(
        allow_none=True, metadata={"description": "The verdict that set it, if any."}
    )


class ContestedValueSchema(ma.Schema):
    value = ma.fields.Raw(metadata={"description": "The value asserted."})
    claims = ma.fields.List(ma.fields.String(), metadata={"description": "Claims asserting it."})
    claimants = ma.fields.List(ma.fields.String(), metadata={"description": "Their claimants."})


class ContestedFactSchema(ma.Schema):
    fact = ma.fields.String(metadata={"description": "Fact name.", "example": "killed"})
    values = ma.fields.List(
        ma.fields.Nested(ContestedValueSchema),
        metadata={"description": "Each value with who asserts it."},
    )


class SpanSchema(ma.Schema):
    low = ma.fields.Integer(metadata={"description": "Lowest figure any live claim gives."})
    high = ma.fields.Integer(metadata={"description": "Highest figure any live claim gives."})


class ViolationSummarySchema(_ViolationFields):
    id = ma.fields.String(metadata={"description": "UUID."})
    status = ma.fields.String(metadata={"description": "One of " + ", ".join(STATUSES)})
    in_agreement_zone = ma.fields.Boolean(
        allow_none=True,
        metadata={"description": "Inside the agreement's zone; null when either is unknown."},
    )
    claim_count = ma.fields.Integer(metadata={"description": "Number of claims."})
    reported_by = ma.fields.String(metadata={"description": "Reporting organisation."})
    created_at = ma.fields.DateTime(metadata={"description": "UTC."})
    updated_at = ma.fields.DateTime(metadata={"description": "UTC."})
    version = ma.fields.Integer(metadata={"description": "Row version."})


class ViolationSchema(ViolationSummarySchema):
    status_history = ma.fields.List(
        ma.fields.Nested(StatusChangeSchema), metadata={"description": "Every status change."}
    )
    contested_facts = ma.fields.List(
        ma.fields.Nested(ContestedFactSchema),
        metadata={"description": "Facts two live claims assert differently."},
    )
    claimed_casualties = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(SpanSchema),
        metadata={
            "description": "Range the claims' figures span, per fact (killed, injured, ...)."
        },
    )
    claims = ma.fields.List(ma.fields.Nested(ClaimSchema), metadata={"description": "Claims."})


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


class _BBox(ma.fields.Field):
    """minLon,minLat,maxLon,maxLat in WGS 84 degrees."""

    def _deserialize(self, value, attr, data, **kwargs):
        parts = str(value).split(",")
        if len(parts) != 4:
            raise ma.ValidationError("must be four numbers: minLon,minLat,maxLon,maxLat")
        try:
            min_lon, min_lat, max_lon, max_lat = (float(p) for p in parts)
        except ValueError:
            raise ma.ValidationError("must be four numbers: minLon,minLat,maxLon,maxLat") from None
        problems = []
        if not all(math.isfinite(x) for x in (min_lon, min_lat, max_lon, max_lat)):
            problems.append("numbers must be finite")
        if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
            problems.append("longitudes must lie in -180..180")
        if not (-90 <= min_lat <= 90 and -90 <= max_lat <= 90):
            problems.append("latitudes must lie in -90..90")
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
    from ...core.query import search_terms

    if not search_terms(value):
        raise ma.ValidationError("has no words to search for")


class ViolationQueryArgs(ma.Schema):
    """The filters of the list, the export and the stats; all combine (AND)."""

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
    attributed_party = slug_field("Only violations attributed to this party.")
    affected_party = slug_field("Only violations that affected this party.")
    claimant = slug_field("Only violations about which this party made a claim (withdrawn too).")
    status = ma.fields.String(
        validate=ma.validate.OneOf(STATUSES), metadata={"description": "Only this status."}
    )
    category = ma.fields.String(
        validate=ma.validate.OneOf(CATEGORIES), metadata={"description": "Only this category."}
    )
    agreement = slug_field("Only violations of this agreement.")
    country = CountryCode(metadata={"description": "ISO 3166-1 alpha-2.", "example": "SY"})
    admin1 = text(
        200, "Only this first-level area, exactly as recorded.", metadata={"example": "Idlib"}
    )
    bbox = _BBox(
        metadata={
            "description": "minLon,minLat,maxLon,maxLat (WGS 84): only violations with "
            "coordinates inside the box, edges included.",
            "type": "string",
            "example": "36.0,35.0,37.5,36.5",
        }
    )
    in_agreement_zone = _TriState(
        metadata={
            "description": "true, false, or null for violations where it is not known.",
            "type": "string",
            "enum": ["true", "false", "null"],
        }
    )
    q = ma.fields.String(
        validate=[ma.validate.Length(min=1, max=200), _has_words],
        metadata={
            "description": "Full text over title, description, claim statements and their "
            "translations: every word must occur (case and accents ignored); `word*` matches "
            "a prefix.",
            "example": "halfaya shell*",
        },
    )
    updated_since = UTCDateTime(
        metadata={"description": "Only violations changed at or after this time (ISO 8601)."}
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
    reason = text(5000, "Rationale; required.", required=True)


class HistoryEntrySchema(ma.Schema):
    seq = ma.fields.Integer(metadata={"description": "Position in the audit log."})
    at = ma.fields.DateTime(metadata={"description": "UTC."})
    actor = ma.fields.String(allow_none=True, metadata={"description": "Organisation."})
    action = ma.fields.String(metadata={"description": "create, update, withdraw, verdict."})
    entity = ma.fields.String(metadata={"description": "violation or claim."})
    entity_id = ma.fields.String(metadata={"description": "Its id."})
    changes = ma.fields.Dict(metadata={"description": "What changed."})


class HistorySchema(ma.Schema):
    items = ma.fields.List(
        ma.fields.Nested(HistoryEntrySchema), metadata={"description": "Oldest first."}
    )


ViolationPageSchema = list_of_page(ViolationSummarySchema, "ViolationPage")
