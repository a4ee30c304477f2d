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
    admin_key = keys.stdout.strip().splitlines()[-1]
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
        # The reader's shell, as the README asks for it: in a directory of its own (not the
        # clone), with PORT and ADMIN_KEY exported.
        shell = tmp_path / "anywhere"
        shell.mkdir()
        yield port, admin_key, shell
    finally:
        server.terminate()
        server.wait(20)


def test_gunicorn_sends_no_server_banner(live_server):
    port, _admin_key, _shell = live_server
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


def _session_script(blocks) -> str:
    script = ["set -euo pipefail"]
    for i, (code, _expects) in enumerate(blocks):
        script.append(f"echo '@@block {i}@@'")
        script.append(code)
    # Where the session put its files, for the test to look at.
    script.append('echo "@@work@@$WORK"')
    return "\n".join(script)


def _reader_env(**exported: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PORT", "ADMIN_KEY", "BASE"}}
    return {**env, **exported}


def test_readme_curl_session(live_server):
    port, admin_key, workdir = live_server
    blocks = readme_blocks()
    env = _reader_env(PORT=str(port), ADMIN_KEY=admin_key)
    result = subprocess.run(
        ["bash", "-c", _session_script(blocks)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Every POST carries an Idempotency-Key, and the session leaves nothing where it ran.
    for code, _expects in blocks:
        for post in re.split(r"(?=curl )", code):
            if "-X POST" in post:
                assert "Idempotency-Key:" in post.split("<<")[0], post
    assert list(workdir.iterdir()) == []
    work = Path(result.stdout.rsplit("@@work@@", 1)[1].strip())
    assert (work / "shelling.csv").is_file()
    shutil.rmtree(work)
    outputs = re.split(r"@@block (\d+)@@\n", result.stdout.rsplit("@@work@@", 1)[0])[1:]
    by_block = {int(outputs[i]): outputs[i + 1] for i in range(0, len(outputs), 2)}
    for i, (code, expects) in enumerate(blocks):
        for expected in expects:
            assert expected in by_block[i], f"README block {i}:\n{code}\nprinted:\n{by_block[i]}"


def test_readme_session_stops_loudly_without_port_or_key():
    """Without PORT exported the commands printed nothing and exited 0; now the first block
    says what to export."""
    first, _expects = readme_blocks()[0]
    for missing, message in (("PORT", "export PORT first"), ("ADMIN_KEY", "export ADMIN_KEY")):
        exported = {"PORT": "8000", "ADMIN_KEY": "cl_x"}
        exported.pop(missing)
        result = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + first],
            env=_reader_env(**exported),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode != 0
        assert message in result.stderr, result.stderr
