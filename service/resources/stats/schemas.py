"""Public contract of the stats."""

import marshmallow as ma

from ...core.stats import GROUP_KEYS
from ..violations.schemas import ViolationQueryArgs

# Example shown in the documentation: violations attributed to the Syrian government, Nov 2018.
_KILLED_SUM = {"low": 20, "best": 22, "high": 25}
_INJURED_SUM = {"low": None, "best": 14, "high": None}
_GROUP = {
    "key": ["syrian-government", "2018-11"],
    "count": 3,
    "killed": _KILLED_SUM,
    "injured": _INJURED_SUM,
}


# Every value group_by takes: one key, or two different keys (comma, no spaces).
GROUP_BY_VALUES = [
    *GROUP_KEYS,
    *(f"{first},{second}" for first in GROUP_KEYS for second in GROUP_KEYS if first != second),
]


def _group_by(value: str) -> list[str]:
    keys = value.split(",")
    unknown = [k for k in keys if k not in GROUP_KEYS]
    if unknown:
        raise ma.ValidationError(
            f"unknown key {', '.join(repr(k) for k in unknown)}; use {', '.join(GROUP_KEYS)}"
        )
    if not 1 <= len(keys) <= 2:
        raise ma.ValidationError("one key, or two separated by a comma")
    if len(set(keys)) != len(keys):
        raise ma.ValidationError("names a key twice")
    return keys


class _GroupBy(ma.fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        return _group_by(super()._deserialize(value, attr, data, **kwargs))


class StatsArgs(ViolationQueryArgs):
    group_by = _GroupBy(
        required=True,
        metadata={
            "description": "One key, or two separated by a comma, of: "
            + ", ".join(GROUP_KEYS)
            + " (month: YYYY-MM of occurred_at, UTC).",
            "example": "attributed_party,month",
            "enum": GROUP_BY_VALUES,
        },
    )


class FigureSumSchema(ma.Schema):
    low = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "Sum of the low estimates given.", "example": _KILLED_SUM["low"]},
    )
    best = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "Sum of the best estimates given.",
            "example": _KILLED_SUM["best"],
        },
    )
    high = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "Sum of the high estimates given.",
            "example": _KILLED_SUM["high"],
        },
    )


class StatsGroupSchema(ma.Schema):
    key = ma.fields.Raw(
        metadata={
            "description": "The group's value (null when not recorded); with two keys, a list "
            "of both values in group_by order.",
            "example": ["syrian-government", "2018-11"],
        }
    )
    count = ma.fields.Integer(
        metadata={"description": "Violations in the group.", "example": _GROUP["count"]}
    )
    killed = ma.fields.Nested(
        FigureSumSchema,
        metadata={
            "description": "Sums of the killed estimates (null: no violation gave one).",
            "example": _KILLED_SUM,
        },
    )
    injured = ma.fields.Nested(
        FigureSumSchema,
        metadata={
            "description": "Sums of the injured estimates (null: no violation gave one).",
            "example": _INJURED_SUM,
        },
    )


class StatsSchema(ma.Schema):
    group_by = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "The keys, in order.", "example": ["attributed_party", "month"]},
    )
    groups = ma.fields.List(
        ma.fields.Nested(StatsGroupSchema),
        metadata={
            "description": "One per combination of values present, ordered by key.",
            "example": [_GROUP],
        },
    )
