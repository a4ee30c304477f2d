"""`make run`'s script as a newcomer meets it: it says what it does, prints the development admin
key once and labelled, and that key opens the API it then serves."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from service import config
from tests.test_readme import _free_port

ROOT = config.ROOT


def _checkout_copy(folder: Path) -> Path:
    """A tree that looks like the checkout to scripts/run-dev.sh, with its own instance/, so the
    script's markers and key file never land in the real one."""
    (folder / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "run-dev.sh", folder / "scripts" / "run-dev.sh")
    for name in ("service", "migrations", "seeds", "alembic.ini", "gunicorn.conf.py"):
        (folder / name).symlink_to(ROOT / name)
    (folder / ".venv").mkdir()
    (folder / ".venv" / "bin").symlink_to(Path(sys.executable).parent)
    return folder


def test_run_dev_prints_one_labelled_key_that_works(tmp_path):
    tree = _checkout_copy(tmp_path / "checkout")
    port = _free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.db'}",
        "SECRET_KEY": "run-dev-test",
        "WEB_CONCURRENCY": "1",
        "RATE_LIMIT": "0",
    }
    env.pop("BIND", None)
    log = tmp_path / "run-dev.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            ["bash", str(tree / "scripts" / "run-dev.sh")],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "==> serving on" not in log.read_text():
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        printed = log.read_text()
        keys = re.findall(r"\bcl_[A-Za-z0-9_-]+", printed)
        assert len(keys) == 1, printed
        # Labelled, and nothing else that reads like a key: the key's id stays out of sight.
        assert "development admin key (organisation dev, role admin" in printed, printed
        assert "Created" not in printed, printed
        assert not re.search(r"key [0-9a-f]{8}-[0-9a-f]{4}-", printed), printed
        # Another DATABASE_URL than the default gets its own key file, named by the URL's hash.
        (keyfile,) = (tree / "instance").glob("dev-admin-key-*")
        assert keyfile.read_text().strip() == keys[0]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/parties?q=hts",
            headers={"Authorization": f"Bearer {keys[0]}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (http, built here)
            assert "hts" in [p["id"] for p in json.load(response)["items"]]
    finally:
        server.terminate()
        server.wait(20)
