"""Opaque, signed keyset cursors: a client cannot forge or edit one without it being noticed."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer

from .errors import ValidationFailed

# What encode_cursor emits: itsdangerous' URL-safe base64 payload (a leading "." when zlib made
# it shorter), a ".", and the base64 signature. The longest issued (a 64-character slug id) is
# about 150 characters; the bound keeps any request line well inside gunicorn's limit.
# Empty means the first page, as when the cursor is left out.
CURSOR_PATTERN = r"^(?:\.?[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)?$"
MAX_CURSOR_LENGTH = 256


def load_secret(configured: str | None, instance_path: str) -> str:
    """SECRET_KEY from the environment; otherwise one kept in instance/ so restarts agree."""
    if configured:
        return configured
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    path.write_text(secret)
    path.chmod(0o600)
    return secret


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="cursor")


def encode_cursor(data: dict[str, Any]) -> str:
    return _serializer().dumps(data)


def decode_cursor(cursor: str | None, kind: str) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        data = _serializer().loads(cursor)
    except BadSignature:
        raise _bad_cursor("is not a cursor this service issued") from None
    if not isinstance(data, dict) or data.get("k") != kind:
        raise _bad_cursor("belongs to another listing")
    return data


def _bad_cursor(reason: str) -> ValidationFailed:
    # "in" as for the other query parameters, which webargs reports with their location.
    return ValidationFailed([{"field": "cursor", "reason": reason, "in": "query"}])


def self_link(query: dict) -> str:
    """A link to this route with `query`: under PUBLIC_URL when it is set, else relative (an
    absolute path). Never from the Host header, which any client sets and a shared cache could
    store and hand to others."""
    base = current_app.config.get("PUBLIC_URL") or ""
    return base + request.script_root + request.path + "?" + urlencode(query, doseq=True)


def link_header(next_cursor: str | None) -> dict[str, str]:
    """RFC 8288 Link to the next page, keeping the other query parameters."""
    if not next_cursor:
        return {}
    args = request.args.to_dict(flat=False)
    args["cursor"] = [next_cursor]
    return {"Link": f'<{self_link(args)}>; rel="next"'}
