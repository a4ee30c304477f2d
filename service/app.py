"""The Flask app: configuration, the API's blueprints, and the hooks every request passes."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
import uuid

from flask import Flask, g, request
from werkzeug.exceptions import Unauthorized

from . import API_VERSION, auth, config, db, idempotency, jsonbody, limits, logs, metrics
from .cli import register as register_cli
from .core import disclosure
from .errors import problem, register_error_handlers
from .ops import bp as ops_bp
from .paging import load_secret
from .resources.agreements.routes import blp as agreements
from .resources.audit.routes import blp as audit
from .resources.batch.routes import blp as batch
from .resources.changes.routes import blp as changes
from .resources.claims.routes import blp as claims
from .resources.exports.routes import blp as exports
from .resources.keys.routes import blp as keys
from .resources.parties.routes import blp as parties
from .resources.sources.routes import blp as sources
from .resources.spec import Api
from .resources.stats.routes import blp as stats
from .resources.violations.routes import ViolationIdConverter, violation_id_schema
from .resources.violations.routes import blp as violations

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_BODY_METHODS = {"POST", "PATCH", "PUT"}
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

log = logging.getLogger("service.request")


API_DESCRIPTION = """\
Alleged ceasefire violations, every claim and counterclaim about them, where each claim came
from, and whether the facts are disputed.

**Getting a key.** Every request needs an API key, sent as `Authorization: Bearer <key>`.
`make run` prints a development admin key when it starts (organisation `dev`, kept in
`instance/dev-admin-key`); on a deployment, an operator makes the first one with
`flask --app service keys create --org ORG --role admin` (in the Docker image:
`create-key ORG admin`). Admins mint keys for others with `POST /v1/keys`
(`{"org": "sohr", "role": "reporter"}`); the answer shows the new key once. Roles:
reader < reporter < verifier < admin.

**Trying it here.** Press **Authorize**, paste the key alone (without `Bearer `) into
*bearer*, press **Authorize** and close the dialog; "Try it out" then sends it with every
request. The examples are written for the data `make run` loads from `seeds/` (the events of
a November 2018 news report from Idlib and Hama): the query examples find the Halfaya
shelling, and each request body can be sent as it is. Every record answers an `ETag`; a `PATCH`
needs it back in `If-Match` (copy it from the `GET` of the same record).
"""


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(config.ROOT / "instance"))
    app.config.update(config.from_env())
    # Seconds a key found valid is trusted per process before it is looked up again, which
    # bounds how long a revoked key keeps working elsewhere (auth.KeyCache); 0 turns it off.
    app.config["AUTH_CACHE_SECONDS"] = float(os.environ.get("AUTH_CACHE_SECONDS") or 5)
    app.config.update(
        API_TITLE="Ceasefire Ledger",
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="v1/openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",
        API_SPEC_OPTIONS={
            "info": {"description": API_DESCRIPTION},
            "servers": [{"url": "/"}],
            "components": {
                "securitySchemes": {
                    "bearer": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "An API key (`cl_…`): `make run` prints a development "
                        "admin key; admins mint more with `POST /v1/keys`. Paste the key alone, "
                        "without `Bearer `.",
                    },
                    "metrics": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "METRICS_TOKEN, when the operator has set one",
                    },
                }
            },
            "security": [{"bearer": []}],
        },
        JSON_SORT_KEYS=False,
    )
    if test_config:
        app.config.update(test_config)
    app.config["SECRET_KEY"] = load_secret(app.config.get("SECRET_KEY"), app.instance_path)
    app.wsgi_app = limits.TrustedProxy(app.wsgi_app, app.config["FORWARDED_ALLOW_IPS"])
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    logs.configure(app.config["LOG_LEVEL"])
    app.extensions["ledger.db"] = db.init_engine(app.config["DATABASE_URL"])

    api = Api(app)
    register_error_handlers(app)
    jsonbody.register(app)
    # The limiter's own before_request runs first: a refused request costs no database work.
    limits.init_app(app)
    _register_hooks(app)

    app.url_map.converters["violation_id"] = ViolationIdConverter
    api.register_converter(ViolationIdConverter, violation_id_schema)

    # Exports and batch before violations, so their fixed paths win over /<violation_id>.
    for blp in (
        ops_bp,
        parties,
        agreements,
        sources,
        exports,
        batch,
        violations,
        claims,
        changes,
        stats,
        audit,
        keys,
    ):
        api.register_blueprint(blp)

    register_cli(app)
    return app


def _register_hooks(app: Flask) -> None:
    @app.before_request
    def _begin():
        g.started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.db = None
        g.principal = None
        disclosure.begin_answer()
        if not request.path.startswith("/v1/") or request.path.startswith("/v1/openapi"):
            return None
        has_body = request.content_length or request.headers.get("Transfer-Encoding")
        if request.method in _BODY_METHODS and has_body:
            mimetype = request.mimetype or ""
            if not (mimetype == "application/json" or mimetype.endswith("+json")):
                return problem(415, "Unsupported media type", "Send the body as application/json.")
        g.write_token = db.write_intent.set(request.method not in _SAFE_METHODS)
        g.db = db.new_session()
        try:
            g.principal = auth.authenticate(g.db)
        except Unauthorized:
            refused = limits.note_auth_failure()
            if refused is not None:
                return refused
            raise
        if g.principal is not None and "\x00" in request.path:
            # No id holds U+0000, and PostgreSQL cannot even compare text holding it.
            return problem(404, "Not found", "No resource has U+0000 in its path.")
        if request.method in _BODY_METHODS and request.is_json:
            # Parsed here, once, before anything else reads it: a body nested too deep for the
            # parser is refused by field name (jsonbody.loads); malformed JSON is webargs' 400.
            with contextlib.suppress(ValueError):
                jsonbody.request_json(request)
        return None

    @app.after_request
    def _finish(response):
        session = getattr(g, "db", None)
        # A read-only request whose statements committed themselves has nothing to end.
        if session is not None and not db.self_committed(session):
            if response.status_code < 400 and not response.is_streamed:
                try:
                    idempotency.complete(session, response)
                    db.commit(session)
                except Exception as exc:  # the client must never see 2xx for a lost write
                    session.rollback()
                    response = app.handle_user_exception(exc)
                    if not hasattr(response, "status_code"):
                        response = app.make_response(response)
                    idempotency.failed(session, response)
            elif response.status_code >= 400:
                session.rollback()
                idempotency.failed(session, response)
        response.headers["X-Request-ID"] = g.get("request_id", "")
        response.headers["X-Content-Type-Options"] = "nosniff"
        if request.headers.get("Authorization"):
            response.headers["Cache-Control"] = "no-store"
        elif "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-cache"
        route = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        metrics.REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        metrics.LATENCY.labels(request.method, route).observe(elapsed)
        principal = g.get("principal")
        log.info(
            "request",
            extra={
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 2),
                "org": principal.org if principal else None,
            },
        )
        return response

    @app.teardown_request
    def _close(_exc):
        session = g.pop("db", None)
        if session is not None and not g.get("keep_session"):
            session.close()
        token = g.pop("write_token", None)
        if token is not None:
            db.write_intent.reset(token)
