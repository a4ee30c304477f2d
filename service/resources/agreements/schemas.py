"""Public contract of agreements."""

import marshmallow as ma
from shapely.errors import GEOSException
from shapely.geometry import shape
from shapely.validation import explain_validity

from ..fields import JSONBoolean, NoNul, slug_field, text
from ..pages import list_of_page

MAX_ZONE_POINTS = 20000


NESTING = "coordinates are not nested as GeoJSON requires: a Polygon is [[[lon, lat], ...], ...]"


def _check_position(point, dims: set[int]) -> None:
    # bool is an int in Python, but true/false are not coordinates.
    if (
        not isinstance(point, list)
        or len(point) not in (2, 3)
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in point)
    ):
        raise ma.ValidationError("each position must be [lon, lat] or [lon, lat, altitude]")
    lon, lat = point[0], point[1]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ma.ValidationError(f"position {point} is outside lon -180..180, lat -90..90")
    dims.add(len(point))


def _check_rings(rings, dims: set[int], count: int) -> int:
    """Checks one Polygon's rings (RFC 7946 3.1.6); returns the running count of positions."""
    if not isinstance(rings, list) or not rings:
        raise ma.ValidationError(NESTING)
    for ring in rings:
        if not isinstance(ring, list) or not all(isinstance(p, list) for p in ring):
            raise ma.ValidationError(NESTING)
        count += len(ring)
        if count > MAX_ZONE_POINTS:
            raise ma.ValidationError(f"has more than {MAX_ZONE_POINTS} positions")
        if len(ring) < 4:
            raise ma.ValidationError("each ring needs at least 4 positions")
        for point in ring:
            _check_position(point, dims)
        if ring[0] != ring[-1]:
            raise ma.ValidationError("each ring must be closed: its last position equals its first")
    return count


# The shape GeoJSONZone checks, as JSON Schema for the spec. Closed rings, one dimension and
# validity (no self-intersection) cannot be said in JSON Schema; the description says them.
def _position() -> dict:
    return {
        "type": "array",
        "prefixItems": [
            {"type": "number", "minimum": -180, "maximum": 180},
            {"type": "number", "minimum": -90, "maximum": 90},
            {"type": "number"},
        ],
        "minItems": 2,
        "maxItems": 3,
    }


def _rings() -> dict:
    return {
        "type": "array",
        "minItems": 1,
        "items": {"type": "array", "minItems": 4, "items": _position()},
    }


def zone_json_schema() -> dict:
    return {
        "required": ["type", "coordinates"],
        "properties": {
            "type": {"type": "string", "enum": ["Polygon", "MultiPolygon"]},
            "coordinates": {"type": "array"},
        },
        "additionalProperties": False,
        "anyOf": [
            {"properties": {"type": {"const": "Polygon"}, "coordinates": _rings()}},
            {
                "properties": {
                    "type": {"const": "MultiPolygon"},
                    "coordinates": {"type": "array", "minItems": 1, "items": _rings()},
                }
            },
        ],
    }


class GeoJSONZone(ma.fields.Dict):
    """A GeoJSON Polygon or MultiPolygon in WGS 84 (lon, lat), checked for validity."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        kind = value.get("type")
        if kind not in ("Polygon", "MultiPolygon"):
            raise ma.ValidationError("must be a GeoJSON Polygon or MultiPolygon")
        if set(value) - {"type", "coordinates"}:
            raise ma.ValidationError("only 'type' and 'coordinates' are allowed")
        coords = value.get("coordinates")
        if not isinstance(coords, list) or not coords:
            raise ma.ValidationError("coordinates must be a non-empty array")
        dims: set[int] = set()
        if kind == "Polygon":
            _check_rings(coords, dims, 0)
        else:
            count = 0
            for polygon in coords:
                count = _check_rings(polygon, dims, count)
        if len(dims) > 1:
            raise ma.ValidationError("positions mix [lon, lat] and [lon, lat, altitude]")
        try:
            geom = shape(value)
        except (GEOSException, ValueError, TypeError, IndexError):
            raise ma.ValidationError("is not a valid polygon") from None
        if geom.is_empty or not geom.is_valid:
            raise ma.ValidationError(f"is not a valid polygon: {explain_validity(geom)}")
        return value


class ProvisionSchema(ma.Schema):
    code = ma.fields.String(
        required=True,
        validate=[
            ma.validate.Length(min=1, max=64),
            ma.validate.Regexp(r"^[A-Za-z0-9._-]+$", error="letters, digits, . _ - only"),
        ],
        metadata={"description": "Short code cited by violations.", "example": "dmz-15km"},
    )
    text = text(
        5000,
        "What the provision requires.",
        required=True,
        metadata={"example": "A demilitarised zone 15 to 20 km deep."},
    )


def _unique_codes(provisions):
    codes = [p["code"] for p in provisions]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise ma.ValidationError(f"duplicate provision code(s): {', '.join(dupes)}")


SOCHI_PROVISIONS = [
    {"code": "dmz-15km", "text": "A demilitarised buffer zone 15 km deep around Idlib."},
    {
        "code": "heavy-weapons-withdrawal",
        "text": "Heavy weapons withdrawn from the demilitarised zone.",
    },
]
# The create example is an agreement the seeds do not hold yet, so that it can be created.
MOSCOW_PROVISIONS = [
    {
        "code": "ceasefire-line-of-contact",
        "text": "All military actions cease along the line of contact from 6 March 2020.",
    },
    {
        "code": "m4-security-corridor",
        "text": "A security corridor 6 km deep north and south of the M4 highway.",
    },
]


def _provisions(example=SOCHI_PROVISIONS):
    return ma.fields.List(
        ma.fields.Nested(ProvisionSchema),
        validate=[ma.validate.Length(max=200), _unique_codes],
        metadata={
            "description": "Each obligation, with a code.",
            "example": example,
        },
    )


def _parties():
    return ma.fields.List(
        slug_field("A party id.", metadata={"example": "turkey"}),
        validate=ma.validate.Length(max=50),
        metadata={
            "description": "Signatories and guarantors (party ids).",
            "example": ["russia", "turkey"],
        },
    )


def _zone():
    return GeoJSONZone(
        allow_none=True,
        metadata={
            "description": "GeoJSON Polygon or MultiPolygon (RFC 7946) of the area the agreement "
            f"covers: at most {MAX_ZONE_POINTS:,} positions, every ring closed (last position "
            "equals first), all positions of one dimension, and a valid polygon (no "
            "self-intersection).",
            **zone_json_schema(),
            "example": {
                "type": "Polygon",
                "coordinates": [[[36.0, 35.0], [37.0, 35.0], [37.0, 36.0], [36.0, 35.0]]],
            },
        },
    )


class AgreementCreateSchema(NoNul):
    id = slug_field("Readable slug.", required=True, metadata={"example": "moscow-2020"})
    title = text(
        300,
        "Title of the agreement.",
        required=True,
        metadata={
            "example": "Additional Protocol to the Memorandum on Stabilization of the Situation "
            "in the Idlib De-escalation Area"
        },
    )
    signed_on = ma.fields.Date(
        allow_none=True, metadata={"description": "Date signed.", "example": "2020-03-05"}
    )
    parties = _parties()
    provisions = _provisions(MOSCOW_PROVISIONS)
    zone = _zone()
    zone_approximate = JSONBoolean(
        metadata={
            "description": "True when the zone is drawn from a description, not an official map.",
            "example": True,
        }
    )
    description = text(
        10000,
        "Free text.",
        allow_none=True,
        metadata={"example": "Agreed in Moscow by Russia and Turkey."},
    )


class AgreementPatchSchema(NoNul):
    title = text(
        300,
        "Title of the agreement.",
        metadata={"example": "Memorandum on Stabilization of the Idlib De-escalation Area"},
    )
    signed_on = ma.fields.Date(
        allow_none=True, metadata={"description": "Date signed.", "example": "2018-09-17"}
    )
    parties = _parties()
    provisions = _provisions()
    zone = _zone()
    zone_approximate = JSONBoolean(
        metadata={"description": "Zone drawn approximately.", "example": True}
    )
    description = text(
        10000,
        "Free text.",
        allow_none=True,
        metadata={"example": "Agreed in Sochi by Russia and Turkey."},
    )


class AgreementSchema(AgreementCreateSchema):
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


AgreementPageSchema = list_of_page(AgreementSchema, "AgreementPage")
