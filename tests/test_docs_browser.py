"""The /docs page works offline: its assets are served locally and a real browser renders it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from html.parser import HTMLParser

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

FOUNDATION_PATHS = ("/v1/parties", "/v1/parties/{party_id}", "/v1/agreements", "/v1/keys")


def local_references(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def test_docs_page_uses_only_local_assets(client):
    resp = client.get("/docs")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    refs = local_references(html)
    assert refs, html
    for ref in refs:
        assert ref.startswith("/") and not ref.startswith("//"), f"{ref} is not served locally"
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        expected = "text/css" if ref.endswith(".css") else "javascript"
        assert expected in asset.content_type, (ref, asset.content_type)
    assert client.get("/docs/assets/no-such-file.js").status_code == 404
    assert client.get("/docs/assets/../../service/__init__.py").status_code == 404


class OperationText(HTMLParser):
    """Collects the text inside each element whose class list has `opblock`."""

    VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}

    def __init__(self):
        super().__init__()
        self.depth = 0
        self.starts: list[int] = []
        self.blocks: list[list[str]] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        self.depth += 1
        classes = (dict(attrs).get("class") or "").split()
        if "opblock" in classes:
            self.starts.append(self.depth)
            self.blocks.append([])

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if self.starts and self.starts[-1] == self.depth:
            self.starts.pop()
        self.depth -= 1

    def handle_data(self, data):
        if self.starts:
            self.blocks[-1].append(data)

    def texts(self) -> list[str]:
        return ["".join(block) for block in self.blocks]


class NoBannerHandler(WSGIRequestHandler):
    """Werkzeug's handler without its `Server: Werkzeug/... Python/...` banner, which gunicorn
    does not send either (gunicorn.conf.py)."""

    def send_header(self, keyword, value):
        if keyword.lower() != "server":
            super().send_header(keyword, value)


@pytest.fixture
def live_server(app):
    """The session app on a real loopback socket; records the paths it was asked for."""
    requested: list[str] = []

    def recording(environ, start_response):
        requested.append(environ.get("PATH_INFO", ""))
        return app(environ, start_response)

    server = make_server(
        "127.0.0.1", 0, recording, threaded=True, request_handler=NoBannerHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", requested
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("REQUIRE_BROWSER=1 but chromium is not on PATH")
        pytest.skip("chromium is not on PATH (set REQUIRE_BROWSER=1 to make this a failure)")
    return path


def test_docs_render_operations_in_headless_chromium(chromium, live_server, tmp_path):
    base, requested = live_server
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            f"{base}/docs",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    parser = OperationText()
    parser.feed(result.stdout)
    texts = parser.texts()
    assert texts, f"no rendered operations in the DOM:\n{result.stdout[:2000]}"
    for path in FOUNDATION_PATHS:
        assert any(path in text for text in texts), f"{path} is not rendered as an operation"
    # Swagger UI came from this server, and so did the spec it rendered.
    assert "/docs/assets/swagger-ui-bundle.js" in requested
    assert "/v1/openapi.json" in requested


def test_live_docs_page_has_its_policy_and_no_server_banner(live_server):
    import urllib.request

    base, _requested = live_server
    with urllib.request.urlopen(f"{base}/docs", timeout=10) as resp:  # noqa: S310
        assert resp.headers.get("Server") is None, resp.headers
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
