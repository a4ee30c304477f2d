"""The README's curl session, run as written against a live gunicorn, each answer checked."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from service import config

ROOT = config.ROOT
BLOCK = re.compile(r"```sh\n(.*?)```\n((?:<!-- expect: .*? -->\n)*)", re.S)
EXPECT = re.compile(r"<!-- expect: (.*?) -->")


def readme_blocks() -> list[tuple[str, list[str]]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    session = text[text.index("## A curl session") : text.index("## Configuration")]
    return [(code, EXPECT.findall(expects)) for code, expects in BLOCK.findall(session)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(fresh_database, tmp_path):
    """gunicorn serving a freshly migrated and seeded database, as `make run` does."""
    if not shutil.which("curl") or not shutil.which("jq"):
        if os.environ.get("CI"):
            pytest.fail("curl and jq are needed for the README session")
        pytest.skip("curl and jq are needed for the README session")
    bin_dir = Path(sys.executable).parent
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database,
        "PORT": str(port),
        "SECRET_KEY": "readme-test",
        "WEB_CONCURRENCY": "1",
        "RATE_LIMIT": "0",
    }
    env.pop("BIND", None)
    flask = [str(bin_dir / "flask"), "--app", "service"]
    subprocess.run([*flask, "seed"], cwd=ROOT, env=env, check=True, capture_output=True)
    keys = subprocess.run(
        [*flask, "keys", "create", "--org", "dev", "--role", "admin"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "dev-admin-key").write_text(keys.stdout.strip().splitlines()[-1])
    server = subprocess.Popen(
        [str(bin_dir / "gunicorn"), "-c", "gunicorn.conf.py", "service.wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("gunicorn did not become ready") from None
                time.sleep(0.2)
        yield port, tmp_path
    finally:
        server.terminate()
        server.wait(20)


def test_gunicorn_sends_no_server_banner(live_server):
    port, _workdir = live_server
    for path in ("/healthz", "/v1/parties", "/docs"):
        try:
            resp = urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5)
        except urllib.error.HTTPError as refused:  # 401 without a key: headers all the same
            resp = refused
        with resp:
            assert resp.headers.get("Server") is None, (path, dict(resp.headers))


def test_readme_has_a_checked_session():
    blocks = readme_blocks()
    assert len(blocks) >= 6
    assert sum(len(expects) for _code, expects in blocks) >= 10


def test_readme_curl_session(live_server):
    port, workdir = live_server
    blocks = readme_blocks()
    script = ["set -euo pipefail"]
    for i, (code, _expects) in enumerate(blocks):
        script.append(f"echo '@@block {i}@@'")
        script.append(code)
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=workdir,
        env={**os.environ, "PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    outputs = re.split(r"@@block (\d+)@@\n", result.stdout)[1:]
    by_block = {int(outputs[i]): outputs[i + 1] for i in range(0, len(outputs), 2)}
    for i, (code, expects) in enumerate(blocks):
        for expected in expects:
            assert expected in by_block[i], f"README block {i}:\n{code}\nprinted:\n{by_block[i]}"
