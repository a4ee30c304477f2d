"""Operations endpoints: liveness, readiness, metrics, the spec as YAML and the docs assets."""

from __future__ import annotations

import functools

import swagger_ui_bundle
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Blueprint, Response, current_app, jsonify, send_from_directory
from sqlalchemy import text

from . import config, db, metrics

bp = Blueprint("ops", __name__)


@functools.cache
def schema_head() -> str | None:
    cfg = Config(str(config.ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(config.ROOT / "migrations"))
    return ScriptDirectory.from_config(cfg).get_current_head()


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
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


@bp.get("/metrics")
def prometheus():
    body, content_type = metrics.render()
    return Response(body, content_type=content_type)


@bp.get("/v1/openapi.yaml")
def openapi_yaml():
    api = current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    return Response(api.spec.to_yaml(), content_type="application/yaml")


@bp.get("/docs/assets/<path:filename>")
def docs_assets(filename: str):
    # Swagger UI ships inside a Python package, so the docs work offline, with no CDN.
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)
