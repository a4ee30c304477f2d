"""Field types and checks shared by the record schemas."""

from __future__ import annotations

import re
from datetime import UTC

import marshmallow as ma
import pycountry

from .parties.schemas import LanguageTag

__all__ = ["LanguageTag", "UTCDateTime", "CountryCode", "InputSchema", "FigureSchema", "HttpUrl"]


class UTCDateTime(ma.fields.AwareDateTime):
    """ISO 8601; a time without an offset is taken as UTC; always answered in UTC."""

    def __init__(self, **kwargs):
        super().__init__(default_timezone=UTC, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).astimezone(UTC)


class CountryCode(ma.fields.String):
    """ISO 3166-1 alpha-2."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs).strip().upper()
        if len(value) != 2 or pycountry.countries.get(alpha_2=value) is None:
            raise ma.ValidationError("is not an ISO 3166-1 alpha-2 country code")
        return value


class HttpUrl(ma.fields.Url):
    def __init__(self, **kwargs):
        kwargs.setdefault("validate", ma.validate.Length(max=2000))
        super().__init__(schemes={"http", "https"}, require_tld=True, **kwargs)


class InputSchema(ma.Schema):
    """Refuses server-owned fields by name, with a reason a client can act on."""

    SERVER_OWNED: tuple[str, ...] = (
        "id",
        "status",
        "status_history",
        "contested_facts",
        "reported_by",
        "created_at",
        "updated_at",
        "version",
        "claim_count",
        "in_agreement_zone",
        "claimed_casualties",
        "created_by",
        "withdrawn",
        "withdrawn_at",
        "withdrawn_reason",
        "withdrawn_by",
        "violation_id",
    )

    @ma.pre_load
    def _refuse_server_owned(self, data, **kwargs):
        if isinstance(data, dict):
            owned = {
                k: ["is set by the server and cannot be sent"]
                for k in data
                if k in self.SERVER_OWNED and k not in self.fields
            }
            if owned:
                raise ma.ValidationError(owned)
        return data


def _ordered(data, names=("low", "best", "high")):
    present = [(n, data[n]) for n in names if data.get(n) is not None]
    errors = {}
    for (lo_name, lo), (hi_name, hi) in zip(present, present[1:], strict=False):
        if hi < lo:
            errors[hi_name] = [f"must not be below {lo_name} ({lo})"]
    return errors


class FigureSchema(ma.Schema):
    """An estimate: any of low, best, high may be absent; low <= best <= high."""

    low = ma.fields.Integer(
        allow_none=True,
        validate=ma.validate.Range(min=0, max=10_000_000),
        metadata={"description": "Lowest estimate.", "example": 20},
    )
    best = ma.fields.Integer(
        allow_none=True,
        validate=ma.validate.Range(min=0, max=10_000_000),
        metadata={"description": "Best estimate.", "example": 22},
    )
    high = ma.fields.Integer(
        allow_none=True,
        validate=ma.validate.Range(min=0, max=10_000_000),
        metadata={"description": "Highest estimate.", "example": 25},
    )

    @ma.validates_schema
    def _order(self, data, **kwargs):
        errors = _ordered(data)
        if errors:
            raise ma.ValidationError(errors)


FACT_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
FIGURE_FACTS = ("killed", "injured", "civilian_killed", "civilian_injured")


def validate_asserts(value: dict) -> None:
    """Facts a claim states: figures are a number or {low, best, high}; others are scalars."""
    from ..core.status import FIGURE_FACTS as figures

    if len(value) > 50:
        raise ma.ValidationError("at most 50 facts")
    errors: dict[str, list[str]] = {}
    for fact, v in value.items():
        if not isinstance(fact, str) or not FACT_NAME.match(fact) or len(fact) > 64:
            errors[str(fact)] = ["fact names are lower-case words joined by _ or ."]
            continue
        if fact in figures:
            if isinstance(v, bool) or not isinstance(v, int | dict):
                errors[fact] = ["must be a whole number or {low, best, high}"]
            elif isinstance(v, int) and v < 0:
                errors[fact] = ["must not be negative"]
            elif isinstance(v, dict):
                try:
                    FigureSchema().load(v)
                except ma.ValidationError as exc:
                    for sub, msgs in exc.messages.items():
                        errors[f"{fact}.{sub}"] = msgs if isinstance(msgs, list) else [str(msgs)]
                if not v:
                    errors[fact] = ["needs at least one of low, best, high"]
        elif fact == "occurred_at":
            try:
                UTCDateTime().deserialize(v)
            except ma.ValidationError:
                errors[fact] = ["must be an ISO 8601 time"]
        elif fact == "category":
            from .violations.schemas import CATEGORIES

            if v not in CATEGORIES:
                errors[fact] = [f"must be one of {', '.join(CATEGORIES)}"]
        elif not (v is None or isinstance(v, str | int | float | bool)):
            errors[fact] = ["must be a string, number, true/false or null"]
        elif isinstance(v, str) and len(v) > 1000:
            errors[fact] = ["longer than 1000 characters"]
    if errors:
        raise ma.ValidationError(errors)
