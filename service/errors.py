"""The one place that turns every error into RFC 9457 problem+json: domain errors
(core.errors) get the status ANSWERS gives them."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, g, request
from flask import json as flask_json
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from .core.errors import Busy, Conflict, DomainError, Forbidden, NotFound, ValidationFailed

__all__ = [
    "Busy",
    "Conflict",
    "DomainError",
    "Forbidden",
    "NotFound",
    "ValidationFailed",
    "answer_for",
    "flatten_messages",
    "problem",
    "register_error_handlers",
]

log = logging.getLogger("service.errors")

PROBLEM_TYPE_BASE = "https://ceasefire-ledger.invalid/problems/"


# The answer each kind of refusal of the rules gets (core.errors knows no HTTP).
ANSWERS: dict[type[DomainError], tuple[int, str]] = {
    ValidationFailed: (422, "Unprocessable content"),
    NotFound: (404, "Not found"),
    Forbidden: (403, "Forbidden"),
    Conflict: (409, "Conflict"),
    Busy: (429, "Too many requests"),
}
_DEFAULT_ANSWER = (400, "Bad request")


def answer_for(err: DomainError) -> tuple[int, str]:
    """The status and title of a domain error's answer."""
    for kind in type(err).__mro__:
        if kind in ANSWERS:
            return ANSWERS[kind]
    return _DEFAULT_ANSWER


def flatten_messages(messages: Any, prefix: str = "") -> list[dict[str, str]]:
    """Turn marshmallow's nested error dict into [{field: "a.b.0.c", reason: "..."}]."""
    out: list[dict[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                name = prefix or "body"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            out.extend(flatten_messages(value, name if key != "_schema" else prefix))
            if key == "_schema" and not isinstance(value, dict | list):
                out.append({"field": name, "reason": str(value)})
    elif isinstance(messages, list):
        if all(isinstance(m, str) for m in messages):
            for m in messages:
                out.append({"field": prefix or "body", "reason": m})
        else:
            for m in messages:
                out.extend(flatten_messages(m, prefix))
    else:
        out.append({"field": prefix or "body", "reason": str(messages)})
    return out


def problem(status: int, title: str, detail: str | None = None, **extra: Any):
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body["instance"] = request.path if request else None
    rid = getattr(g, "request_id", None)
    if rid:
        body["request_id"] = rid
    body.update({k: v for k, v in extra.items() if v is not None})
    resp = Flask.response_class(
        flask_json.dumps(body), status=status, mimetype="application/problem+json"
    )
    return resp


def _webargs_location_errors(messages: Any) -> list[dict[str, str]]:
    # webargs nests errors under the location ("json", "query", "headers"); the field path is
    # what a client can act on, the location only helps when it is not the body.
    out: list[dict[str, str]] = []
    if isinstance(messages, dict):
        for location, msgs in messages.items():
            prefix = "" if location in ("json", "form") else str(location)
            for item in flatten_messages(msgs):
                if prefix:
                    item = {**item, "field": f"{prefix}.{item['field']}", "in": prefix}
                out.append(item)
    return out


# SQLite reports mistakes in the statement as OperationalError too; they are bugs, not outages,
# and "retry shortly" would be a lie.
_SQLITE_BUGS = ("no such table", "no such column", "syntax error", "has no column")


def _is_programming_error(err: OperationalError) -> bool:
    message = str(err.orig).lower()
    return any(marker in message for marker in _SQLITE_BUGS)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(err: DomainError):
        extra = dict(err.extra)
        retry_after = extra.pop("retry_after", None)
        status, title = answer_for(err)
        resp = problem(status, title, err.detail, errors=err.errors, **extra)
        if retry_after is not None:
            resp.headers["Retry-After"] = str(retry_after)
        return resp

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        data = getattr(err, "data", None) or {}
        status = err.code or 500
        if status == 422 and "messages" in data:
            resp = problem(
                422,
                "Unprocessable content",
                "The request has invalid fields.",
                errors=_webargs_location_errors(data["messages"]),
            )
        elif status == 400 and "messages" in data:
            # webargs could not decode the body; say where, without echoing the body back.
            exc = data.get("exc")
            detail = "The body is not valid JSON."
            if isinstance(exc, json.JSONDecodeError):
                where = f"line {exc.lineno}, column {exc.colno}"
                detail = f"The body is not valid JSON: {exc.msg} at {where}."
            resp = problem(400, "Bad request", detail)
        else:
            detail = data.get("message") or err.description
            if status == 412:
                detail = "The resource changed since you read it: fetch it again and retry."
            elif status == 428:
                detail = "This request must carry If-Match with the resource's current ETag."
            elif status == 413:
                limit = app.config.get("MAX_CONTENT_LENGTH")
                detail = f"The request body exceeds the limit of {limit} bytes."
            # Sentence case like the domain errors: one problem type, one title (RFC 9457 3.1.3).
            resp = problem(status, err.name[:1] + err.name[1:].lower(), detail)
        headers = dict(data.get("headers") or {})
        if status == 405 and getattr(err, "valid_methods", None):
            headers["Allow"] = ", ".join(sorted(err.valid_methods))
        for k, v in headers.items():
            resp.headers[k] = v
        if status == 401:
            resp.headers.setdefault("WWW-Authenticate", 'Bearer realm="ceasefire-ledger"')
        return resp

    @app.errorhandler(StaleDataError)
    def _stale(_err):
        return problem(
            412, "Precondition failed", "The resource changed while you edited it: retry."
        )

    @app.errorhandler(IntegrityError)
    def _integrity(err):
        log.warning("integrity error", extra={"error": type(err.orig).__name__})
        return problem(409, "Conflict", "The change conflicts with data already recorded.")

    @app.errorhandler(OperationalError)
    def _operational(err):
        if _is_programming_error(err):
            log.error("database error", extra={"error": type(err.orig).__name__})
            return problem(500, "Internal server error", "An unexpected error occurred.")
        log.error("database unavailable", extra={"error": type(err.orig).__name__})
        resp = problem(503, "Service unavailable", "The database is unavailable: retry shortly.")
        resp.headers["Retry-After"] = "2"
        return resp

    @app.errorhandler(DBAPIError)
    def _dbapi(err):
        if err.connection_invalidated:
            return _operational(err)
        log.exception("database error")
        return problem(500, "Internal server error", "An unexpected error occurred.")

    @app.errorhandler(Exception)
    def _unexpected(err):
        log.exception("unhandled error")
        return problem(500, "Internal server error", "An unexpected error occurred.")
