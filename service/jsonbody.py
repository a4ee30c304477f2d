"""Request bodies parsed once, so that any JSON that parses gets a 4xx naming the field, never a
500: integers past Python's digit limit and nesting past its recursion limit."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Request, g

from .errors import ValidationFailed

# Objects and arrays nested deeper than this are refused (resources.fields walks every input);
# the deepest body the API takes (an agreement's MultiPolygon zone) nests 6 levels.
MAX_DEPTH = 64
TOO_DEEP = f"nests arrays or objects more than {MAX_DEPTH} levels deep"
_MISSING = object()


class HugeInteger:
    """An integer literal with more digits than Python converts (sys.get_int_max_str_digits):
    no field type accepts it, so the field that holds it is refused by name."""

    __slots__ = ("digits",)

    def __init__(self, digits: int):
        self.digits = digits

    def __repr__(self) -> str:
        return f"<integer of {self.digits} digits>"


def _int(text: str) -> int | HugeInteger:
    try:
        return int(text)
    except ValueError:  # beyond the int conversion limit
        return HugeInteger(len(text))


def loads(text: str | bytes) -> Any:
    """json.loads, except that a huge integer becomes a HugeInteger and nesting too deep for the
    parser is a ValidationFailed naming the field (RecursionError otherwise)."""
    if isinstance(text, bytes):
        try:  # UTF-8 only, as webargs reads a body (json.loads would guess UTF-16 or -32)
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError(
                f"Bytes decoding error : {exc.reason}", doc=str(exc.object), pos=exc.start
            ) from exc
    try:
        return json.loads(text, parse_int=_int)
    except RecursionError:
        where = too_deep(text)
        raise ValidationFailed({where or "body": TOO_DEEP}) from None


# What matters for nesting: strings (which may hold brackets) and structural characters.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},:]', re.S)


def too_deep(text: str, limit: int = MAX_DEPTH) -> str | None:
    """Dotted path of the member whose value nests past `limit` ("body" when the body itself
    does), or None when nothing does. Walks tokens without recursion; only for refusals."""
    stack: list[list] = []  # per open container: [is_object, key or index, expecting_key]
    for match in _TOKEN.finditer(text):
        piece = match.group()
        if piece in ("[", "{"):
            if len(stack) >= limit:
                return _path(stack)
            stack.append([piece == "{", None if piece == "{" else 0, piece == "{"])
        elif piece in ("]", "}"):
            if stack:
                stack.pop()
        elif not stack:
            continue
        elif piece == ",":
            top = stack[-1]
            if top[0]:
                top[2] = True
            else:
                top[1] += 1
        elif piece == ":":
            stack[-1][2] = False
        elif stack[-1][0] and stack[-1][2]:
            stack[-1][1] = json.loads(piece)
    return None


def _path(stack: list[list]) -> str:
    """The path down to the innermost object member on the way: the field that nests."""
    last_object = max((i for i, entry in enumerate(stack) if entry[0]), default=-1)
    if last_object < 0:
        return "body"
    return ".".join(str(entry[1]) for entry in stack[: last_object + 1])


def request_json(req: Request) -> Any:
    """The request's body parsed with `loads`, once per request."""
    cached = g.get("json_body", _MISSING)
    if cached is _MISSING:
        cached = g.json_body = loads(req.get_data(cache=True))
    return cached




def register(app) -> None:
    """A RecursionError while a request is handled is a body nested too deep for some step
    (the parser's own is caught in `loads`): 422 naming the field, if the body shows it."""
    from flask import request

    @app.errorhandler(RecursionError)
    def _recursion(err: RecursionError):
        text = request.get_data(cache=True).decode("utf-8", "replace")
        where = too_deep(text)
        if where is None:
            raise err
        return app.handle_user_exception(ValidationFailed({where: TOO_DEEP}))
