"""Response headers that leak nothing and promise nothing they do not mean: no Server banner,
Retry-After only with a refusal, and a Content-Security-Policy on the docs page."""

from __future__ import annotations

import re


def test_retry_after_only_on_a_refusal(make_app, make_caller):
    limited = make_app(RATE_LIMIT="1000/minute")
    caller = make_caller("reader")
    client = limited.test_client()
    headers = {"Authorization": f"Bearer {caller.key}"}
    for path in ("/v1/parties", "/v1/parties/no-such-party", "/v1/violations?limit=x"):
        resp = client.get(path, headers=headers)
        assert resp.status_code in (200, 404, 422), (path, resp.status_code)
        assert "Retry-After" not in resp.headers, (path, resp.status_code, resp.headers)
    # The rate limit's other headers stay: they describe the window without asking for a wait.
    assert "X-RateLimit-Limit" in client.get("/v1/parties", headers=headers).headers


def test_docs_page_has_a_content_security_policy(client):
    resp = client.get("/docs")
    assert resp.status_code == 200
    from service.ops import docs_policy

    policy = resp.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    # The page's inline script is allowed by its hash, and only it.
    html = resp.get_data(as_text=True)
    inline = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(inline) == 1
    assert directives["script-src"].count("'sha256-") == 1
    assert policy == docs_policy(html)
