"""Field types and checks shared by the record schemas."""

from __future__ import annotations

import contextvars
import functools
import math
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC

import marshmallow as ma
import pycountry

from ..jsonbody import MAX_DEPTH, TOO_DEEP

__all__ = [
    "LanguageTag",
    "UTCDateTime",
    "CountryCode",
    "InputSchema",
    "NoNul",
    "FigureSchema",
    "HttpUrl",
    "JSONBoolean",
    "JSONInteger",
    "JSONNumber",
    "json_keywords",
    "Pattern",
]


class Pattern(ma.validate.Regexp):
    """Regexp matching the whole value, as JSON Schema's `pattern` with ^...$ does: Python's `$`
    also matches before a final newline, so "SY\\n" would pass a plain Regexp."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value


def json_keywords(self, field: ma.fields.Field, **kwargs) -> dict:
    """apispec attribute function: the JSON Schema keywords apispec does not derive itself.

    `propertyNames` of a Dict, from its key field's own checks (apispec documents only the
    values), so that a client learns which keys are accepted.
    """
    if isinstance(field, ma.fields.Dict) and field.key_field is not None:
        keys = self.field2property(field.key_field)
        keys = {k: v for k, v in keys.items() if k not in ("type", "description", "example")}
        if keys:
            return {"propertyNames": keys}
    return {}


# The BCP 47 (RFC 5646) tags taken here, in either case: a language, then optionally a script,
# a region and variants (ar, pt-BR, zh-Hant-TW, sr-Latn-RS, de-DE-1996). Each subtag must also be
# in the IANA registry, which the spec names as `format: bcp47` (too long a list for a pattern).
LANGUAGE_TAG = (
    r"^[A-Za-z]{2,3}(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*$"
)
_LANGUAGE_TAG = re.compile(LANGUAGE_TAG)


class LanguageTag(ma.fields.String):
    """A registered BCP 47 language tag such as `ar`, `en` or `pt-BR`; answered standardized."""

    def __init__(self, **kwargs):
        metadata = {"format": "bcp47", "pattern": LANGUAGE_TAG, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        standard = _standard_tag(value)
        if standard is None:
            raise ma.ValidationError("is not a registered BCP 47 language tag such as ar or pt-BR")
        return standard


@functools.lru_cache(maxsize=4096)
def _standard_tag(value: str) -> str | None:
    """The standardized form of a registered tag, else None: remembered, since a batch names the
    same few languages hundreds of times and each look-up in the registry costs microseconds."""
    import langcodes

    if not _LANGUAGE_TAG.fullmatch(value) or not langcodes.tag_is_valid(value):
        return None
    return langcodes.standardize_tag(value)


# Times are kept in UTC: the first and last day of the calendar Python can hold are refused,
# since an offset could move them out of it.
_REPRESENTABLE = re.compile(r"^(?!0001-01-01|9999-12-31)")
_OUT_OF_RANGE = "must fall between 0001-01-02 and 9999-12-30"
# Room for any offset and microseconds; a bound keeps every query string within gunicorn's limit.
MAX_TIME_LENGTH = 64


class UTCDateTime(ma.fields.AwareDateTime):
    """ISO 8601; a time without an offset is taken as UTC; always answered in UTC."""

    def __init__(self, **kwargs):
        metadata = {
            "pattern": _REPRESENTABLE.pattern,
            "maxLength": MAX_TIME_LENGTH,
            **kwargs.pop("metadata", {}),
        }
        super().__init__(default_timezone=UTC, metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and len(value) > MAX_TIME_LENGTH:
            raise ma.ValidationError(f"is longer than {MAX_TIME_LENGTH} characters")
        moment = super()._deserialize(value, attr, data, **kwargs)
        # (A lookahead: nothing to match in full.) Seeds may give datetimes rather than text.
        if isinstance(value, str) and not _REPRESENTABLE.match(value):
            raise ma.ValidationError(_OUT_OF_RANGE)
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ma.ValidationError(_OUT_OF_RANGE) from None


def _char_class(chars: str) -> str:
    """A regex character class of `chars`, runs written as ranges: [A-DGZ]."""
    ordered = sorted(set(chars))
    runs: list[list[str]] = []
    for c in ordered:
        if runs and ord(c) == ord(runs[-1][-1]) + 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    return "[" + "".join("".join(r) if len(r) < 3 else f"{r[0]}-{r[-1]}" for r in runs) + "]"


def _country_pattern() -> str:
    """Exactly the assigned ISO 3166-1 alpha-2 codes, in either case."""
    by_first: dict[str, str] = {}
    for country in pycountry.countries:
        code = country.alpha_2
        by_first[code[0]] = by_first.get(code[0], "") + code[1]
    alternatives = [
        _char_class(first + first.lower()) + _char_class(seconds + seconds.lower())
        for first, seconds in sorted(by_first.items())
    ]
    return "^(?:" + "|".join(alternatives) + ")$"


COUNTRY_PATTERN = _country_pattern()


class CountryCode(ma.fields.String):
    """ISO 3166-1 alpha-2, either case; answered in upper case."""

    def __init__(self, **kwargs):
        metadata = {"minLength": 2, "maxLength": 2, **kwargs.pop("metadata", {})}
        super().__init__(
            validate=Pattern(COUNTRY_PATTERN, error="is not an ISO 3166-1 alpha-2 country code"),
            metadata=metadata,
            **kwargs,
        )

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).upper()


class HttpUrl(ma.fields.Url):
    """An absolute http(s) URL whose host is a domain name with a top-level domain."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", ma.validate.Length(max=2000))
        metadata = {
            "format": "uri",
            "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(schemes={"http", "https"}, require_tld=True, metadata=metadata, **kwargs)


class JSONBoolean(ma.fields.Boolean):
    """true or false only: "true", 1 or "yes" are refused, as the spec's `boolean` says."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class JSONInteger(ma.fields.Integer):
    """A JSON number without a fraction: 5 and 5.0, not "5", 5.5 or true."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid", input=value)
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class JSONNumber(ma.fields.Float):
    """A JSON number: not "35.2" or true."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid", input=value)
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an integer literal beyond any float
            finite = False
        if not finite:
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


NUL_REASON = "must not contain the NUL character (U+0000)"
# Characters no text of an input may hold, key or value, since they make a record display as
# something other than what it holds, or cannot be stored: C0 and C1 controls (ESC sequences,
# NUL, which PostgreSQL cannot store), bidi controls (U+061C, U+200E/F, U+202A-202E,
# U+2066-2069), invisible spaces (U+200B, U+2060, U+FEFF) and lone surrogates, which UTF-8
# cannot encode. The zero-width non-joiner and joiner (U+200C, U+200D) are taken: Persian,
# Kurdish and Urdu words, Indic scripts and emoji sequences need them. Tab, newline and
# carriage return (CRLF line ends) are refused in one-line text only: long text (a String
# field with metadata multiline=True) may hold them.
REFUSED_CHARACTERS = (
    r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060"
    r"\u2066-\u2069\ufeff"
)
_SURROGATES = r"\ud800-\udfff"
_LINE_BREAKS = r"\t\n\r"
_REFUSED_IN_LONG_TEXT = re.compile(f"[{REFUSED_CHARACTERS}{_SURROGATES}]")
_REFUSED_IN_LINE = re.compile(f"[{REFUSED_CHARACTERS}{_SURROGATES}{_LINE_BREAKS}]")
_ANY_REFUSED = _REFUSED_IN_LINE


def refused_keywords(multiline: bool = False) -> dict:
    """The spec's word for the characters a text field refuses: `not` a string holding one
    (an unanchored search, so JSON Schema and Python agree; JSON cannot carry a lone surrogate
    in well-formed text, so the spec leaves those out)."""
    chars = REFUSED_CHARACTERS if multiline else REFUSED_CHARACTERS + _LINE_BREAKS
    # `type` inside `not`: a pattern passes any non-string, so `not` alone would refuse null.
    return {"not": {"type": "string", "pattern": f"[{chars}]"}}


def character_reason(char: str) -> str:
    """Why text holding `char` is refused, naming the code point."""
    code = ord(char)
    if code == 0:
        return NUL_REASON
    if 0xD800 <= code <= 0xDFFF:
        return f"contains U+{code:04X} (a lone surrogate, which is not a character)"
    name = unicodedata.name(char, "a control character")
    return f"contains U+{code:04X} ({name})"


def _looks_clean(data) -> bool:
    """Whether no text in `data` holds a character that any field refuses, and nothing nests
    too deep: the common answer, found without the paths and fields that _problems follows."""
    search = _ANY_REFUSED.search
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        kind = type(value)
        if kind is str:  # the common kinds first, by type: isinstance of Mapping is slow
            if search(value):
                return False
        elif kind is dict or kind is list:
            if depth > MAX_DEPTH:
                return False
            if kind is dict:
                for key in value:
                    if type(key) is str and search(key):
                        return False
                stack.extend((v, depth + 1) for v in value.values())
            else:
                stack.extend((v, depth + 1) for v in value)
        elif kind in (int, float, bool) or value is None:
            continue
        elif isinstance(value, str):
            if search(value):
                return False
        elif isinstance(value, Mapping | list | tuple):
            if depth > MAX_DEPTH:
                return False
            if isinstance(value, Mapping):
                for key in value:
                    if isinstance(key, str) and search(key):
                        return False
                stack.extend((v, depth + 1) for v in value.values())
            else:
                stack.extend((v, depth + 1) for v in value)
    return True


def _inner(context, value):
    """What describes the members of `value`, given what describes `value` (a schema, a field
    or None): a schema's fields by data key, a List's inner field, a Nested's schema."""
    if isinstance(context, ma.fields.Nested):
        return context.schema
    if isinstance(context, ma.fields.List):
        return context.inner
    return context


def _member(context, key):
    if isinstance(context, ma.Schema):
        by_key = context.__dict__.get("_fields_by_key")
        if by_key is None:
            by_key = {(f.data_key or name): f for name, f in context.fields.items()}
            context.__dict__["_fields_by_key"] = by_key
        return by_key.get(key)
    if isinstance(context, ma.fields.Dict):
        return context.value_field
    return None


def _problems(data, schema) -> dict[str, list[str]]:
    """Dotted paths of the texts (values or keys) in `data` that hold a refused character, each
    with its reason, and of the values nested too deep. Follows the schema's fields, so that
    long text may hold line breaks; anything unknown is held to the one-line rules."""
    found: dict[str, list[str]] = {}

    def path(where, member_only: bool = False) -> str:
        parts = []
        while where is not None:
            where, key = where
            parts.append(key)
        parts.reverse()
        if member_only:  # the field that nests (as service.jsonbody names it), not the depths
            while parts and isinstance(parts[-1], int):
                parts.pop()
        return ".".join(map(str, parts)) or "body"

    line = _REFUSED_IN_LINE
    stack = [(data, schema, None, 1)]
    while stack:
        value, context, where, depth = stack.pop()
        if isinstance(value, str):
            long_text = isinstance(context, ma.fields.String) and context.metadata.get(
                "multiline"
            )
            match = (_REFUSED_IN_LONG_TEXT if long_text else line).search(value)
            if match:
                found.setdefault(path(where), [character_reason(match.group())])
            continue
        if not isinstance(value, Mapping | list | tuple):
            continue
        if depth > MAX_DEPTH:
            found.setdefault(path(where, member_only=True), [TOO_DEEP])
            continue
        inner = _inner(context, value)
        if isinstance(value, Mapping):
            for key, member in value.items():
                at = (where, key)
                if isinstance(key, str):
                    match = line.search(key)
                    if match:  # ".key", as marshmallow names what is wrong with a Dict's key
                        reason = character_reason(match.group())
                        found.setdefault(path((where, f"{key}.key")), [reason])
                stack.append((member, _member(inner, key), at, depth + 1))
        else:
            for i, member in enumerate(value):
                stack.append((member, inner, (where, i), depth + 1))
    return found


# Set while an outermost schema loads: its check covered the whole input, nested ones skip it.
_NUL_CHECKED: contextvars.ContextVar[bool] = contextvars.ContextVar("nul_checked", default=False)


class NoNul(ma.Schema):
    """Refuses text holding a character no field takes (REFUSED_CHARACTERS; tab and newline
    outside long text) and values nested past MAX_DEPTH, naming each path, the code point and
    its name: "contains U+202E (RIGHT-TO-LEFT OVERRIDE)".

    The whole input is walked once, by the outermost schema, before anything else is loaded:
    as a pre_load of every schema, a violation with a claim and an inline source was walked
    four times over, a tenth of a batch's time. The walk follows the schema's fields only when
    something was found, to tell which field it is and whether that field takes long text.
    """

    # Keys checked elsewhere (batch items, each on its own).
    NUL_UNCHECKED: tuple[str, ...] = ()

    def load(self, data, **kwargs):
        if _NUL_CHECKED.get():
            return super().load(data, **kwargs)
        if isinstance(data, Mapping):
            data_to_check = {k: v for k, v in data.items() if k not in self.NUL_UNCHECKED}
            if not _looks_clean(data_to_check):
                found = _problems(data_to_check, self)
                if found:
                    raise ma.ValidationError(found)
        token = _NUL_CHECKED.set(True)
        try:
            return super().load(data, **kwargs)
        finally:
            _NUL_CHECKED.reset(token)


class InputSchema(NoNul):
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The server-owned names this schema does not take as fields of its own.
        self._refused = frozenset(self.SERVER_OWNED) - set(self.fields)

    @ma.pre_load
    def _refuse_server_owned(self, data, **kwargs):
        if isinstance(data, dict):
            refused = self._refused
            if not refused.isdisjoint(data):
                reason = "is set by the server and cannot be sent"
                raise ma.ValidationError({k: [reason] for k in data if k in refused})
        return data


def _ordered(data, names=("low", "best", "high")):
    present = [(n, data[n]) for n in names if data.get(n) is not None]
    errors = {}
    for (lo_name, lo), (hi_name, hi) in zip(present, present[1:], strict=False):
        if hi < lo:
            errors[hi_name] = [f"must not be below {lo_name} ({lo})"]
    return errors


MAX_FIGURE = 10_000_000


class FigureSchema(ma.Schema):
    """An estimate: any of low, best, high may be absent; low <= best <= high."""

    low = JSONInteger(
        allow_none=True,
        validate=ma.validate.Range(min=0, max=MAX_FIGURE),
        metadata={"description": "Lowest estimate.", "example": 20},
    )
    best = JSONInteger(
        allow_none=True,
        validate=ma.validate.Range(min=0, max=MAX_FIGURE),
        metadata={"description": "Best estimate.", "example": 22},
    )
    high = JSONInteger(
        allow_none=True,
        validate=ma.validate.Range(min=0, max=MAX_FIGURE),
        metadata={"description": "Highest estimate.", "example": 25},
    )

    @ma.validates_schema
    def _order(self, data, **kwargs):
        errors = _ordered(data)
        if errors:
            raise ma.ValidationError(errors)


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
FACT_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
FIGURE_FACTS = ("killed", "injured", "civilian_killed", "civilian_injured")
MAX_FACTS = 50
MAX_FACT_TEXT = 1000


def _whole(*types: str) -> dict:
    kind = list(types) if len(types) > 1 else types[0]
    return {"type": kind, "minimum": 0, "maximum": MAX_FIGURE}


def asserts_json_schema() -> dict:
    """What validate_asserts accepts, as JSON Schema for the spec (the key pattern comes from the
    Dict's key field). Only low <= best <= high cannot be said in JSON Schema."""
    return {
        "maxProperties": MAX_FACTS,
        "properties": {
            **{
                fact: {
                    "anyOf": [
                        _whole("integer"),
                        {
                            "type": "object",
                            "properties": {
                                k: _whole("integer", "null") for k in ("low", "best", "high")
                            },
                            "additionalProperties": False,
                            "minProperties": 1,
                        },
                    ]
                }
                for fact in FIGURE_FACTS
            },
            "occurred_at": {
                "type": "string",
                "format": "date-time",
                "pattern": _REPRESENTABLE.pattern,
            },
            "category": {"type": "string", "enum": list(CATEGORIES)},
        },
        "additionalProperties": {
            "type": ["string", "number", "boolean", "null"],
            "maxLength": MAX_FACT_TEXT,
            **refused_keywords(),
        },
    }


def _whole_number(v) -> bool:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    return isinstance(v, int) or (math.isfinite(v) and v.is_integer())


def validate_asserts(value: dict) -> None:
    """Facts a claim states: figures are a number or {low, best, high}; others are scalars."""
    if len(value) > MAX_FACTS:
        raise ma.ValidationError(f"at most {MAX_FACTS} facts")
    errors: dict[str, list[str]] = {}
    for fact, v in value.items():
        if not isinstance(fact, str) or not FACT_NAME.fullmatch(fact) or len(fact) > 64:
            errors[str(fact)] = ["fact names are lower-case words joined by _ or ."]
            continue
        if fact in FIGURE_FACTS:
            if not (_whole_number(v) or isinstance(v, dict)):
                errors[fact] = ["must be a whole number or {low, best, high}"]
            elif isinstance(v, dict):
                try:
                    FigureSchema().load(v)
                except ma.ValidationError as exc:
                    for sub, msgs in exc.messages.items():
                        errors[f"{fact}.{sub}"] = msgs if isinstance(msgs, list) else [str(msgs)]
                if not v:
                    errors[fact] = ["needs at least one of low, best, high"]
            elif v < 0:
                errors[fact] = ["must not be negative"]
            elif v > MAX_FIGURE:
                errors[fact] = [f"must not exceed {MAX_FIGURE:,}"]
        elif fact == "occurred_at":
            try:
                UTCDateTime().deserialize(v)
            except ma.ValidationError:
                errors[fact] = ["must be an ISO 8601 time"]
        elif fact == "category":
            if v not in CATEGORIES:
                errors[fact] = [f"must be one of {', '.join(CATEGORIES)}"]
        elif not (v is None or isinstance(v, str | int | float | bool)):
            errors[fact] = ["must be a string, number, true/false or null"]
        elif isinstance(v, str) and len(v) > MAX_FACT_TEXT:
            errors[fact] = [f"longer than {MAX_FACT_TEXT} characters"]
    if errors:
        raise ma.ValidationError(errors)


def fact_name_field() -> ma.fields.String:
    """Keys of `asserts`: also documented as its propertyNames."""
    return ma.fields.String(
        validate=[
            ma.validate.Length(min=1, max=64),
            Pattern(FACT_NAME, error="fact names are lower-case words joined by _ or ."),
        ]
    )


SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def slug_field(description: str, **kwargs) -> ma.fields.String:
    return ma.fields.String(
        validate=[
            ma.validate.Length(min=1, max=64),
            ma.validate.Regexp(SLUG, error="must be a lower-case slug like 'syrian-government'"),
        ],
        metadata={"description": description, **kwargs.pop("metadata", {})},
        **kwargs,
    )


# Text fields this long or longer are prose (descriptions, statements, reasons): they may hold
# tabs and newlines, which one-line text (titles, names, places) refuses.
LONG_TEXT = 5000


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ma.ValidationError("must not be blank (only spaces)")


def text(
    max_len: int, description: str, *, multiline: bool | None = None, **kwargs
) -> ma.fields.String:
    """Free text of 1 to `max_len` characters, not only whitespace, holding none of the
    characters fields.NoNul refuses (documented as `not` a pattern; the walk enforces it)."""
    multiline = max_len >= LONG_TEXT if multiline is None else multiline
    return ma.fields.String(
        validate=[ma.validate.Length(min=1, max=max_len), _not_blank],
        metadata={
            "description": description,
            "multiline": multiline,
            # Some character that is not whitespace (JSON Schema's \S, as Python's str.strip).
            "pattern": r"\S",
            **refused_keywords(multiline),
            **kwargs.pop("metadata", {}),
        },
        **kwargs,
    )
