"""The foundation answers: health, readiness, auth, problem+json."""


def test_health_and_ready(client):
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["status"] == "ok"


def test_reads_need_a_key(anonymous):
    resp = anonymous.get("/v1/parties")
    assert resp.status_code == 401
    assert resp.mimetype == "application/problem+json"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
