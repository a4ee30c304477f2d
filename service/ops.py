"""Operations endpoints: liveness, readiness, metrics, the spec as YAML and the docs assets."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re

import flask
import swagger_ui_bundle
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Response, current_app, jsonify, request, send_from_directory
from sqlalchemy import text

from . import config, db, metrics
from .errors import problem
from .resources.spec import Blueprint

bp = Blueprint(
    "operations",
    __name__,
    description="Health, readiness, metrics and the spec.",
    common_errors=False,
)


@functools.cache
def schema_head() -> str | None:
    cfg = Config(str(config.ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(config.ROOT / "migrations"))
    return ScriptDirectory.from_config(cfg).get_current_head()


@bp.route("/healthz")
@bp.doc(security=[])
@bp.alt_response(200, description="The process is alive.", success=True)
def healthz():
    """Liveness: answers while the process runs, whatever the database does"""
    return jsonify(status="ok")


@bp.route("/readyz")
@bp.doc(security=[])
@bp.alt_response(200, description="Database reachable, schema at head.", success=True)
@bp.alt_response(503, description="Not ready: database unreachable or schema not at head.")
def readyz():
    """Readiness: the database answers and its schema is at head"""
    try:
        with db.get_engine().connect() as conn:
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:
        resp = jsonify(status="unavailable", reason="database unreachable or not migrated")
        resp.status_code = 503
        resp.headers["Retry-After"] = "5"
        return resp
    head = schema_head()
    if current != head:
        resp = jsonify(
            status="unavailable", reason="schema is not at head", schema=current, head=head
        )
        resp.status_code = 503
        return resp
    return jsonify(status="ok", schema=current)


@bp.route("/metrics")
@bp.doc(security=[{}, {"metrics": []}])
@bp.alt_response(200, description="Prometheus text format.", success=True)
@bp.alt_response(401, "UNAUTHORIZED")
def prometheus():
    """Prometheus metrics

    Open while the operator has set no METRICS_TOKEN; with one set, the scraper sends
    `Authorization: Bearer <METRICS_TOKEN>` (the metrics show which routes are used, and when).
    """
    token = current_app.config.get("METRICS_TOKEN")
    if token and not _presents(token):
        resp = problem(401, "Unauthorized", "Send 'Authorization: Bearer <METRICS_TOKEN>'.")
        resp.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return resp
    body, content_type = metrics.render()
    return Response(body, content_type=content_type)


def _presents(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


@bp.route("/v1/openapi.yaml")
@bp.doc(security=[])
@bp.alt_response(200, description="This OpenAPI document as YAML.", success=True)
def openapi_yaml():
    """This OpenAPI document"""
    api = current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    return Response(api.spec.to_yaml(), content_type="application/yaml")


def docs_assets(filename: str):
    """Swagger UI assets"""
    # Swagger UI ships inside a Python package, so the docs work offline, with no CDN.
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)


# Registered through flask.Blueprint itself, past flask-smorest, so that the assets stay out of
# the spec: flask-smorest has no "hide", and `hide: true` made the document invalid OpenAPI.
flask.Blueprint.add_url_rule(bp, "/docs/assets/<path:filename>", view_func=docs_assets)


# The docs page's one inline <script> (flask-smorest's template: it starts Swagger UI) is allowed
# by its hash; everything else the page loads comes from this server. Swagger UI's stylesheet
# draws its icons as data: images.
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
DOCS_ENDPOINT = "api-docs.openapi_swagger_ui"


def docs_policy(html: str) -> str:
    """The Content-Security-Policy of the /docs page: its own assets only, never framed."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    ]
    return "; ".join(
        [
            "default-src 'self'",
            " ".join(["script-src 'self'", *hashes]),
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


@bp.after_app_request
def _docs_headers(response):
    if request.endpoint == DOCS_ENDPOINT and response.status_code == 200:
        response.headers["Content-Security-Policy"] = docs_policy(response.get_data(as_text=True))
        response.headers["X-Frame-Options"] = "DENY"
    return response
