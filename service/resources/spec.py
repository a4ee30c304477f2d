"""What every resource's spec shares: the Api and Blueprint (the error statuses each operation
can answer, documented by the shared machinery), the problem schema, examples."""

from __future__ import annotations

import hashlib
import http
import re
import uuid
from copy import deepcopy
from functools import wraps

import flask_smorest
import flask_smorest.etag as fs_etag
import marshmallow as ma
from flask import current_app, request
from flask_smorest.etag import _get_etag_ctx
from flask_smorest.exceptions import PreconditionRequired
from flask_smorest.utils import deepupdate, prepare_response
from marshmallow.utils import missing
from webargs.flaskparser import FlaskParser, is_json_request

from .. import idempotency, jsonbody
from .fields import json_keywords

# Examples shown in the documentation.
EXAMPLE_CURSOR = (
    "eyJrIjoidmlvbGF0aW9ucyIsImlkIjoiM2Y2YzJhNGUtOGIxZC00YzU1LTlhMGUtMmI3ZDVjMWU5ZjEwIn0"
    ".pkiZz4rpvm1AMEmSBZH-cYUQglQ"
)


PROBLEM_REASON = "Must be greater than or equal to 1 and less than or equal to 500."


# If-Match: one or more entity tags (RFC 9110 8.8.3, 13.1.1), without "*".
IF_MATCH_PATTERN = r'^(?:W/)?"[!#-~]*"(?:[ \t]*,[ \t]*(?:W/)?"[!#-~]*")*$'


class ProblemFieldSchema(ma.Schema):
    field = ma.fields.String(
        metadata={"description": "Dotted path of the offending field.", "example": "limit"}
    )
    reason = ma.fields.String(
        metadata={"description": "Why the value was refused.", "example": PROBLEM_REASON}
    )
    # Present when the field is a query parameter or header rather than part of the body.
    in_ = ma.fields.String(
        data_key="in", metadata={"description": "query or headers", "example": "query"}
    )


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details."""

    type = ma.fields.String(
        metadata={
            "description": "URI naming the kind of problem.",
            "example": "https://ceasefire-ledger.invalid/problems/unprocessable-content",
        }
    )
    title = ma.fields.String(
        metadata={
            "description": "Short summary of the kind of problem.",
            "example": "Unprocessable content",
        }
    )
    status = ma.fields.Integer(metadata={"description": "The HTTP status code.", "example": 422})
    detail = ma.fields.String(
        metadata={
            "description": "What went wrong in this request.",
            "example": "The request has invalid fields.",
        }
    )
    instance = ma.fields.String(
        metadata={
            "description": "The request path.",
            "example": "/v1/violations",
        }
    )
    request_id = ma.fields.String(
        metadata={
            "description": "Echoed X-Request-ID.",
            "example": "4f1c9e2a7b3d4e5f8a6b0c1d2e3f4a5b",
        }
    )
    created_id = ma.fields.String(
        metadata={
            "description": "What an earlier request with this Idempotency-Key created, when "
            "its answer held a secret and is not replayed (409).",
            "example": "95124b50-3c1e-4d7a-9f2b-6a8e0c4d2f10",
        }
    )
    errors = ma.fields.List(
        ma.fields.Nested(ProblemFieldSchema),
        metadata={
            "description": "Each bad field and why (422).",
            "example": [{"field": "limit", "reason": PROBLEM_REASON, "in": "query"}],
        },
    )


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ProblemSchema
    # Every error status is listed per operation instead (see Blueprint below).
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _init_spec(self, *args, **kwargs):
        super()._init_spec(*args, **kwargs)
        # JSON Schema keywords apispec does not derive from marshmallow (a Dict's propertyNames).
        self.ma_plugin.converter.add_attribute_function(json_keywords)

    def _register_etag_headers(self):
        """flask-smorest's, except that If-Match is an entity-tag list: `*` (any version) is
        refused with 428, since a PATCH must name the version it changes."""
        self.spec.components.parameter(
            "IF_NONE_MATCH", "header", fs_etag.IF_NONE_MATCH_HEADER, lazy=True
        )
        if_match = {
            **fs_etag.IF_MATCH_HEADER,
            "description": "The ETag of the version you change (one or more entity tags, as "
            'RFC 9110 says: "…" or W/"…"; not *).',
            "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
        }
        self.spec.components.parameter("IF_MATCH", "header", if_match, lazy=True)
        self.spec.components.header("ETAG", fs_etag.ETAG_HEADER, lazy=True)
        self.spec.components.parameter(
            "IDEMPOTENCY_KEY",
            "header",
            {
                "name": idempotency.HEADER,
                "required": False,
                "description": "Any unique text of yours for this request, so that it can be "
                "retried safely: for 24 hours the same key and the same request answer the first "
                "response again, with `Idempotent-Replayed: true`, instead of doing it twice. The "
                "same key with another request is 422; a retry while the first still runs is "
                "409. Keys are per API key: no other key can replay an answer. A refused "
                "request is not kept, so its key can be sent again; a request whose answer holds "
                "a secret (a new API key) is not replayed either: a retry is 409 naming what it "
                "created.",
                "schema": {"type": "string", "pattern": idempotency.KEY_PATTERN, "maxLength": 255},
                "example": "3b2f7c1e-batch-2018-11-09",
            },
            lazy=True,
        )

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304) and status >= 400:
                response["schema"] = self.ERROR_SCHEMA
                prepare_response(response, self.spec, "application/problem+json")
                if status in (429, 503):
                    response["headers"] = {
                        "Retry-After": {
                            "description": "Seconds to wait before retrying.",
                            "schema": {"type": "integer"},
                        }
                    }
                if status == 401:
                    response["headers"] = {
                        "WWW-Authenticate": {
                            "description": "The Bearer scheme.",
                            "schema": {"type": "string"},
                        }
                    }
            self.spec.components.response(status.name, response, lazy=True)


def _name(code: int) -> str:
    return http.HTTPStatus(code).name


class BodyParser(FlaskParser):
    """webargs' parser, reading JSON bodies through service.jsonbody: once per request, and a
    huge integer or too deep a nesting is refused by field name instead of raising."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return missing
        return jsonbody.request_json(req)


class Blueprint(flask_smorest.Blueprint):
    """Adds to each operation's spec the error statuses that the shared machinery can answer,
    so the documentation cannot forget them."""

    ARGUMENTS_PARSER = BodyParser()

    def __init__(self, *args, common_errors: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        # Operations endpoints are neither rate-limited nor behind the database.
        self._common = {429, 500, 503} if common_errors else {500}
        self._prepare_doc_cbks.append(self._prepare_common_errors)

    def arguments(self, schema, *args, **kwargs):
        """As flask-smorest's, with one schema instance made here for every request: given a
        class, webargs would instantiate it per request, deep-copying every declared field
        and building each nested schema again (a fifth of a create's CPU time)."""
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)

    def _prepare_common_errors(self, doc, doc_info, *, api, spec, method, **kwargs):
        codes = set(self._common)
        role = doc_info.get("role")
        if role is not None:
            codes.add(401)
            if role != "reader":
                codes.add(403)
        has_query = any(
            isinstance(p, dict) and p.get("in") == "query" for p in doc.get("parameters", [])
        )
        if has_query or "requestBody" in doc:
            codes.add(422)
        if "requestBody" in doc:
            codes.update({400, 413, 415})
        if method.upper() == "POST" and role is not None:
            # Every authenticated POST takes an Idempotency-Key (service.idempotency).
            codes.update({409, 422})
            doc.setdefault("parameters", []).append("IDEMPOTENCY_KEY")
        codes.update(doc_info.get("extra_errors", ()))
        responses = {c: _name(c) for c in sorted(codes)}
        return deepupdate(doc, {"responses": responses})

    def _check_precondition(self):
        """428 without If-Match (flask-smorest), and also when its value is not an entity-tag
        list (IF_MATCH_PATTERN, as the spec says): such a value, `*` included (it matches any
        version and would switch lost-update protection off), names no version to check."""
        value = request.headers.get("If-Match")
        if (
            request.method in self.METHODS_NEEDING_CHECK_ETAG
            and value is not None
            and re.fullmatch(IF_MATCH_PATTERN, value.strip()) is None
        ):
            raise PreconditionRequired
        super()._check_precondition()

    def json_response(self, data: dict, headers: dict[str, str] | None = None):
        """The 200 response that @response would make of `data` (Flask's JSON, the same
        bytes), for a view that builds its answer itself instead of dumping it through the
        schema (the schema still documents it); a top-level RawJSON value goes in as it is.
        Under @etag, the ETag is the SHA-1 of those bytes, computed once (flask-smorest would
        encode the dump again, sorted, to hash it), and a matching If-None-Match answers 304."""
        raw = {key: value for key, value in data.items() if isinstance(value, RawJSON)}
        if raw:
            data = {k: f"{_RAW_MARK}:{k}" if k in raw else v for k, v in data.items()}
        resp = current_app.json.response(data)
        if raw:
            body = resp.get_data(as_text=True)
            for key, value in raw.items():
                body = body.replace(f'"{_RAW_MARK}:{key}"', value, 1)
            resp.set_data(body)
        if self._is_etag_enabled():
            etag = hashlib.sha1(resp.get_data()).hexdigest()  # noqa: S324 (a tag, not a secret)
            self._check_not_modified(etag)
            # Where set_etag leaves it, so that @etag puts it on the response (flask-smorest
            # is pinned; tests/test_list_items.py checks the 304).
            _get_etag_ctx()["etag"] = etag
        if headers:
            resp.headers.update(headers)
        return resp


class RawJSON(str):
    """Text that is JSON already (written by the database), for Blueprint.json_response."""

    __slots__ = ()

    @classmethod
    def join(cls, texts) -> RawJSON:
        """A JSON array of JSON texts."""
        return cls("[" + ",".join(texts) + "]")


# Stands in for a RawJSON value while the rest of the response is encoded: random, so that
# no text of the data can hold it.
_RAW_MARK = uuid.uuid4().hex


def add_doc(func, wrapper, **info):
    wrapper._apidoc = deepcopy(getattr(func, "_apidoc", {}))
    for key, value in info.items():
        if key == "extra_errors":
            wrapper._apidoc.setdefault(key, [])
            wrapper._apidoc[key] = sorted(set(wrapper._apidoc[key]) | set(value))
        else:
            wrapper._apidoc[key] = value
    return wrapper


def errors(*codes: int):
    """Documents statuses a route's own logic answers (404, 409, ...)."""

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            return func(*args, **kwargs)

        return add_doc(func, wrapper, extra_errors=codes)

    return decorator


def example_of(schema: type[ma.Schema]) -> dict:
    """An example object made of the examples of a schema's fields."""
    return {
        (field.data_key or name): field.metadata["example"]
        for name, field in schema._declared_fields.items()
        if "example" in field.metadata
    }
