"""/metrics shows what the service is doing (routes, statuses, volumes): with METRICS_TOKEN set
only a scraper that presents it as a bearer token sees it."""

from __future__ import annotations

TOKEN = "scrape-secret-7f3a"


def test_metrics_need_the_token_when_one_is_set(make_app):
    client = make_app(METRICS_TOKEN=TOKEN).test_client()
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ):
        resp = client.get("/metrics", headers=headers)
        assert resp.status_code == 401, headers
        assert resp.mimetype == "application/problem+json"
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert "ledger_http_requests" not in resp.get_data(as_text=True)
    resp = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 200
    assert "ledger_http_requests_total" in resp.get_data(as_text=True)
    # Health and readiness stay open to the orchestrator.
    assert client.get("/healthz").status_code == 200


def test_metrics_open_without_a_token(make_app):
    assert make_app(METRICS_TOKEN=None).test_client().get("/metrics").status_code == 200


def test_metrics_token_from_the_environment(monkeypatch):
    from service import config

    monkeypatch.setenv("METRICS_TOKEN", TOKEN)
    assert config.from_env()["METRICS_TOKEN"] == TOKEN
    monkeypatch.delenv("METRICS_TOKEN")
    assert config.from_env()["METRICS_TOKEN"] is None


def test_spec_says_metrics_may_need_a_token(app):
    spec = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    operation = spec["paths"]["/metrics"]["get"]
    assert "401" in operation["responses"]
    assert {"metrics": []} in operation["security"]
