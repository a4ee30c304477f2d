"""Paged lists: the page arguments, a page's schema, and a page by keyset."""

from __future__ import annotations

import marshmallow as ma

from ..core import filters
from ..core.errors import ValidationFailed
from ..paging import CURSOR_PATTERN, MAX_CURSOR_LENGTH, decode_cursor, encode_cursor, link_header
from .spec import EXAMPLE_CURSOR, example_of

MAX_PAGE = 500


DEFAULT_PAGE = 50


class PageArgs(ma.Schema):
    limit = ma.fields.Integer(
        load_default=DEFAULT_PAGE,
        validate=ma.validate.Range(min=1, max=MAX_PAGE),
        metadata={"description": f"Page size, at most {MAX_PAGE}.", "example": DEFAULT_PAGE},
    )
    # No example: a cursor is signed by the service and names its listing, so any fixed value
    # would be refused (422); the page schemas show one as next_cursor.
    # The pattern says what the service issues; decode_cursor refuses anything else, naming
    # `cursor` (a signature check, which no pattern could stand in for).
    cursor = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(max=MAX_CURSOR_LENGTH),
        metadata={
            "description": "Opaque cursor from the previous page's next_cursor.",
            "pattern": CURSOR_PATTERN,
        },
    )


def list_of_page(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(
                ma.fields.Nested(item_schema),
                metadata={"description": "This page.", "example": [example_of(item_schema)]},
            ),
            "next_cursor": ma.fields.String(
                allow_none=True,
                metadata={
                    "description": "Cursor of the next page; null on the last page.",
                    "example": EXAMPLE_CURSOR,
                },
            ),
        },
        name=name,
    )


def next_page(kind: str, rows, limit: int, position) -> tuple[str | None, dict[str, str]]:
    """The cursor of the page after `rows` (fetched with one row more than `limit`, which
    tells whether more follow) and its Link header: `position(row)` is where the last row
    of this page stands in the listing's keyset."""
    if len(rows) <= limit:
        return None, {}
    nxt = encode_cursor({"k": kind, **position(rows[limit - 1])})
    return nxt, link_header(nxt)


def keyset_page(kind: str, args: dict, fetch, key=lambda row: row.id):
    """One page by id order: fetch(after, limit+1)."""
    after = decode_cursor(args.get("cursor"), kind)
    limit = args["limit"]
    rows = fetch(after["id"] if after else None, limit + 1)
    nxt, headers = next_page(kind, rows, limit, lambda row: {"id": key(row)})
    return {"items": rows[:limit], "next_cursor": nxt}, 200, headers


# The Link header of a paged answer (RFC 8288), as the spec documents it on every paged route.
LINK_HEADER = {
    "Link": {
        "description": 'The next page: `<URL>; rel="next"`, only while there is more. Relative '
        "to the service, or under PUBLIC_URL when the operator sets it.",
        "schema": {"type": "string"},
    }
}


def refuse_unknown_filters(session, args: dict) -> None:
    """422 naming each filter that names a party or agreement nobody recorded (with the
    closest known names), instead of an empty answer that looks like "nothing matched"."""
    unknown = filters.unknown_references(session, args)
    if unknown:
        raise ValidationFailed(
            [
                {"field": f"query.{name}", "reason": why, "in": "query"}
                for name, why in unknown.items()
            ]
        )
