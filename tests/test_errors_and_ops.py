"""What every endpoint keeps: problem+json errors, limits, headers, operations endpoints, logs."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from alembic import command
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from tests.conftest import alembic_config, problem_of, unique
from tests.factories import PartyPayload


@pytest.mark.parametrize("path", ["/v1/nothing-here", "/nothing-here", "/v1/parties/a/b/c"])
def test_unknown_route_is_404_problem(reader, path):
    resp = reader.get(path)
    assert resp.status_code == 404
    problem_of(resp)


def test_unknown_route_is_404_even_without_a_key(anonymous):
    resp = anonymous.get("/v1/nothing-here")
    assert resp.status_code == 404
    problem_of(resp)


def test_unknown_id_is_404_problem(reader):
    missing = unique("missing")
    resp = reader.get(f"/v1/parties/{missing}")
    assert resp.status_code == 404
    body = problem_of(resp)
    assert missing in body["detail"]
    assert body["instance"] == f"/v1/parties/{missing}"


@pytest.mark.parametrize("path", ["/v1/parties/%00", "/v1/violations/a%00b", "/v1/sources/%00"])
def test_a_nul_in_a_path_is_404_not_a_database_error(reader, anonymous, path):
    """PostgreSQL refuses text holding U+0000 outright; such a path names nothing (404), and
    without a key it is 401 as any other."""
    resp = reader.get(path)
    assert resp.status_code == 404
    problem_of(resp)
    assert anonymous.get(path).status_code == 401


def test_one_problem_type_has_one_title(reader, reporter):
    """A 404 from routing and one from a missing row are the same kind of problem."""
    routed = problem_of(reader.get("/v1/nothing-here"))
    missing = problem_of(reader.get(f"/v1/parties/{unique('missing')}"))
    assert (routed["type"], routed["title"]) == (missing["type"], missing["title"])
    body = PartyPayload()
    assert reporter.post("/v1/parties", json=body).status_code == 201
    stale = reporter.patch(f"/v1/parties/{body['id']}", json={"name": "x"}, etag='"old"')
    assert problem_of(stale)["title"] == "Precondition failed"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("delete", "/v1/parties", {"GET", "POST"}),
        ("put", "/v1/parties/{id}", {"GET", "PATCH"}),
        ("delete", "/v1/agreements/{id}", {"GET", "PATCH"}),
        ("get", "/v1/keys/{id}/revoke", {"POST"}),
    ],
)
def test_wrong_method_is_405_with_allow(admin, method, path, allowed):
    resp = getattr(admin.client, method)(
        path.format(id=unique("x")), headers={"Authorization": f"Bearer {admin.key}"}
    )
    assert resp.status_code == 405
    problem_of(resp)
    allow = {m.strip() for m in resp.headers["Allow"].split(",")}
    assert allowed <= allow
    assert method.upper() not in allow


def test_body_that_is_not_json_is_415(reporter):
    resp = reporter.post("/v1/parties", data="id=x&name=y", content_type="text/plain")
    assert resp.status_code == 415
    problem_of(resp)
    form = reporter.post(
        "/v1/parties", data={"id": "x"}, content_type="application/x-www-form-urlencoded"
    )
    assert form.status_code == 415


def test_json_with_charset_or_problem_suffix_is_accepted(reporter):
    body = PartyPayload()
    resp = reporter.post(
        "/v1/parties", data=json.dumps(body), content_type="application/json; charset=utf-8"
    )
    assert resp.status_code == 201


def test_body_over_the_limit_is_413(app, reporter):
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == 1024 * 1024
    big = PartyPayload(description="x" * (2 * limit))
    resp = reporter.post("/v1/parties", json=big)
    assert resp.status_code == 413
    body = problem_of(resp)
    assert str(limit) in body["detail"]
    assert reporter.get(f"/v1/parties/{big['id']}").status_code == 404


@pytest.mark.parametrize(
    "raw", [b"{bad json", b'{"id": "x",}', b"\xff\xfe", b'{"id": "x"'], ids=repr
)
def test_invalid_json_is_400_problem(reporter, raw):
    resp = reporter.post("/v1/parties", data=raw, content_type="application/json")
    assert resp.status_code == 400
    body = problem_of(resp)
    assert "JSON" in body["detail"]


def test_json_that_is_not_an_object_is_422(reporter):
    resp = reporter.post("/v1/parties", json=["a", "list"])
    assert resp.status_code == 422
    problem_of(resp)


def test_unexpected_error_is_500_problem_without_traceback(reporter, monkeypatch):
    import service.core.parties

    def explode(*_args, **_kwargs):
        raise RuntimeError("internal detail the client must not see")

    monkeypatch.setattr(service.core.parties, "create", explode)
    resp = reporter.post("/v1/parties", json=PartyPayload())
    assert resp.status_code == 500
    body = problem_of(resp)
    raw = resp.get_data(as_text=True)
    assert "Traceback" not in raw
    assert "internal detail" not in raw
    assert "RuntimeError" not in raw
    assert body["request_id"] == resp.headers["X-Request-ID"]


def test_failure_after_a_write_leaves_nothing_behind(reporter, monkeypatch):
    """The party row is flushed before the audit entry fails: the whole request rolls back."""
    from service.core import audit

    def fail(*_args, **_kwargs):
        raise RuntimeError("audit log unavailable")

    body = PartyPayload()
    monkeypatch.setattr(audit, "record", fail)
    assert reporter.post("/v1/parties", json=body).status_code == 500
    monkeypatch.undo()
    assert reporter.get(f"/v1/parties/{body['id']}").status_code == 404
    assert reporter.post("/v1/parties", json=body).status_code == 201


def test_request_id_and_nosniff_on_every_response(reporter, anonymous):
    responses = [
        anonymous.get("/healthz"),
        anonymous.get("/v1/parties"),  # 401
        reporter.get("/v1/parties?limit=1"),
        reporter.get("/v1/nothing"),
        reporter.post("/v1/parties", json={}),  # 422
        anonymous.get("/metrics"),
    ]
    seen = set()
    for resp in responses:
        rid = resp.headers.get("X-Request-ID")
        assert rid and re.fullmatch(r"[A-Za-z0-9._-]{1,64}", rid), resp.request.path
        seen.add(rid)
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        if resp.mimetype == "application/problem+json":
            assert resp.get_json()["request_id"] == rid
    assert len(seen) == len(responses)


@pytest.mark.parametrize("sent", ["abc-123", "trace.id_42", "A" * 64])
def test_sane_request_id_is_echoed(reader, sent):
    resp = reader.get("/v1/parties?limit=1", headers={"X-Request-ID": sent})
    assert resp.headers["X-Request-ID"] == sent


@pytest.mark.parametrize("sent", ["A" * 65, "has space", "semi;colon", "<script>", ""])
def test_other_request_ids_are_replaced(reader, sent):
    resp = reader.get("/v1/nothing", headers={"X-Request-ID": sent})
    rid = resp.headers["X-Request-ID"]
    assert rid != sent
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", rid)
    assert resp.get_json()["request_id"] == rid


def test_authenticated_responses_are_not_stored(reporter, anonymous):
    body = PartyPayload()
    created = reporter.post("/v1/parties", json=body)
    path = f"/v1/parties/{body['id']}"
    got = reporter.get(path)
    for resp in (
        created,
        got,
        reporter.get(path, headers={"If-None-Match": got.headers["ETag"]}),  # 304
        reporter.get("/v1/parties?limit=1"),
        reporter.get(f"/v1/parties/{unique('x')}"),  # 404
        reporter.patch(path, json={"name": "y"}),  # 428
        anonymous.get(path, headers={"Authorization": "Bearer cl_wrong"}),  # 401
    ):
        assert "no-store" in resp.headers.get("Cache-Control", ""), resp.status_code


def test_metrics_are_prometheus_text(reader, anonymous):
    party = unique("metric-party")
    reader.get("/v1/parties?limit=1")
    reader.get(f"/v1/parties/{party}")
    resp = anonymous.get("/metrics")
    assert resp.status_code == 200
    assert resp.mimetype == "text/plain"
    exposition = resp.get_data(as_text=True)
    families = {f.name: f for f in text_string_to_metric_families(exposition)}
    assert "ledger_http_requests" in families  # the _total counter's family
    assert "ledger_http_requests_total" in exposition
    samples = families["ledger_http_requests"].samples
    routes = {(s.labels["method"], s.labels["route"], s.labels["status"]) for s in samples}
    assert ("GET", "/v1/parties", "200") in routes
    # The route template is the label, never the concrete path.
    assert ("GET", "/v1/parties/<party_id>", "404") in routes
    assert party not in exposition


def test_metrics_and_health_need_no_key(anonymous):
    assert anonymous.get("/metrics").status_code == 200
    assert anonymous.get("/healthz").status_code == 200


@pytest.fixture
def migrated_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'ready.db'}"
    command.upgrade(alembic_config(url), "head")
    return url


def test_readyz_is_503_when_schema_is_not_at_head(make_app, migrated_sqlite):
    other = make_app(DATABASE_URL=migrated_sqlite).test_client()
    ready = other.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["status"] == "ok"

    engine = create_engine(migrated_sqlite)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'dead'"))
    engine.dispose()

    resp = other.get("/readyz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["status"] != "ok"
    assert body["schema"] == "dead"
    assert other.get("/healthz").status_code == 200


def test_readyz_is_503_when_the_database_is_unreachable(make_app, tmp_path):
    url = f"sqlite:///{tmp_path / 'no-such-dir' / 'ledger.db'}"
    other = make_app(DATABASE_URL=url).test_client()
    resp = other.get("/readyz")
    assert resp.status_code == 503
    assert resp.headers.get("Retry-After")
    assert other.get("/healthz").status_code == 200


def test_readyz_of_the_test_database(client):
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "ok"


@pytest.fixture
def log_output():
    """Everything the service's JSON log handler writes while the test runs."""
    handlers = [h for h in logging.getLogger().handlers if getattr(h, "_ledger", False)]
    assert handlers, "the service installs its JSON log handler on the root logger"
    handler = handlers[0]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


def test_logs_are_json_with_request_id_and_no_secrets(reporter, log_output):
    secret_text = unique("witness-name-Zubair")
    body = PartyPayload(description=secret_text, aliases=[secret_text])
    resp = reporter.post(
        f"/v1/parties?note={secret_text}", json=body, headers={"X-Request-ID": "log-test-1"}
    )
    assert resp.status_code == 201
    reporter.get("/v1/parties", query_string={"q": secret_text})

    output = log_output.getvalue()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    mine = [line for line in lines if line.get("request_id") == "log-test-1"]
    assert mine, output
    assert mine[-1]["status"] == 201
    assert reporter.key not in output
    assert reporter.key[:12] not in output
    assert secret_text not in output


def test_database_errors_are_logged_without_request_values(reporter, monkeypatch, log_output):
    """A failing statement is logged, but not the values bound into it."""
    import service.core.parties

    def failing_create(session, _actor, data):
        session.execute(
            text("SELECT * FROM ledger_no_such_table WHERE name = :name"), {"name": data["name"]}
        )

    secret_text = unique("source-identity-Samira")
    monkeypatch.setattr(service.core.parties, "create", failing_create)
    resp = reporter.post("/v1/parties", json=PartyPayload(name=secret_text))
    assert resp.status_code in (500, 503)
    problem_of(resp)
    assert secret_text not in resp.get_data(as_text=True)
    output = log_output.getvalue()
    assert output
    assert secret_text not in output
