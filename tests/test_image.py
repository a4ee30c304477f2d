"""The Docker image's own commands, run outside Docker (no engine runs here): the entrypoint's
migrate, seed, create-key and serve from exactly the files the Dockerfile copies, against a
temporary SQLite database, and its HEALTHCHECK command against the port served.

The commands take their programs from PATH, as in the image. IMAGE_VENV_BIN names the bin/ of
a venv made from requirements/runtime.lock alone (.ci/run makes one with Debian's python3);
without it the test's own venv stands in. Run as root, the commands run as the unprivileged
user nobody, as the image runs them as ledger: required with IMAGE_VENV_BIN, else only when
nobody can run the venv's python (a venv of a Python under /root cannot be)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from service import config
from tests.test_readme import _free_port

ROOT = config.ROOT
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def final_stage() -> list[tuple[str, str]]:
    """(instruction, arguments) of the image's last stage, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    stages: list[list[tuple[str, str]]] = []
    for line in lines:
        instruction, _, args = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), args.strip()))
    return stages[-1]


def image_tree(folder: Path) -> Path:
    """/app as the Dockerfile fills it: each COPY of the build context, and nothing else."""
    app = folder / "app"
    for instruction, args in final_stage():
        if instruction != "COPY" or args.startswith("--from"):
            continue
        *sources, dest = shlex.split(args)
        for source in sources:
            src = ROOT / source
            target = app / dest.removeprefix("/app/") if dest.startswith("/app/") else app / dest
            if dest.endswith("/"):
                target = target / src.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(src, target)
    (app / "instance").mkdir()
    return app


NOBODY = 65534


def _unprivileged(bin_dir: str) -> list[str]:
    """The prefix that runs a command as nobody, or [] where that cannot be done."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return []
    prefix = [
        "setpriv",
        f"--reuid={NOBODY}",
        f"--regid={NOBODY}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--",
    ]
    # Through a shell, as the entrypoint starts them: setpriv's own exec of a program reaches
    # paths that the user's later execs (a script's #! interpreter under /root) do not.
    probe = subprocess.run(
        [*prefix, "sh", "-c", '"$0/alembic" --version && "$0/python" -c "import flask"', bin_dir],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        assert not os.environ.get("IMAGE_VENV_BIN"), f"nobody cannot run it: {probe.stderr}"
        return []
    return prefix


@pytest.fixture
def image():
    # Not under pytest's tmp_path (root's alone): a folder the unprivileged user can reach.
    workspace = Path(tempfile.mkdtemp(prefix="ledger-image-"))
    workspace.chmod(0o755)
    app = image_tree(workspace)
    (app / "instance").chmod(0o777)  # the image chowns it to its user
    data = workspace / "data"
    data.mkdir(mode=0o777)
    data.chmod(0o777)
    bin_dir = os.environ.get("IMAGE_VENV_BIN") or str(Path(sys.executable).parent)
    as_user = _unprivileged(bin_dir)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"BIND", "PORT", "DATABASE_URL", "SECRET_KEY", "REDIS_URL", "VIRTUAL_ENV"}
    }
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        DATABASE_URL=f"sqlite:///{data / 'image.db'}",
        HOME=str(data),
        WEB_CONCURRENCY="1",
        RATE_LIMIT="0",
        PYTHONDONTWRITEBYTECODE="1",
    )
    entrypoint = str(app / "scripts" / "entrypoint.sh")

    def run(*args: str, check: bool = True, **extra: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [*as_user, entrypoint, *args],
            cwd=data,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result

    run.app = app
    run.env = env
    run.command = [*as_user, entrypoint]
    run.data = data
    run.unprivileged = bool(as_user)
    yield run
    shutil.rmtree(workspace, ignore_errors=True)


def test_dockerfile_ships_the_runtime_lock_only_as_a_non_root_user():
    stage = final_stage()
    assert "requirements/runtime.lock" in DOCKERFILE
    assert "dev.lock" not in DOCKERFILE
    users = [args for instruction, args in stage if instruction == "USER"]
    assert users and users[-1] not in {"root", "0"}
    (healthcheck,) = [args for instruction, args in stage if instruction == "HEALTHCHECK"]
    assert '"/app/scripts/entrypoint.sh", "healthcheck"' in healthcheck
    assert "8000" not in healthcheck  # the port comes from the configuration
    assert ("ENTRYPOINT", '["/app/scripts/entrypoint.sh"]') in stage
    assert ("CMD", '["serve"]') in stage
    # Nothing of the tests, the benchmarks or a developer's instance/ goes in.
    copied = [args for instruction, args in stage if instruction == "COPY"]
    assert not any(word in " ".join(copied) for word in ("tests", "bench", " . ", ".venv"))


def test_compose_runs_migrate_once_before_the_app_and_requires_a_secret_key():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"db", "redis", "migrate", "app"} <= set(services)
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["app"]["command"] == ["serve"]
    depends = services["app"]["depends_on"]
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    for name in ("migrate", "app"):
        environment = services[name]["environment"]
        assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?")
        assert environment["DATABASE_URL"].startswith("postgresql+psycopg://")
        assert environment["REDIS_URL"].startswith("redis://redis:")


def test_entrypoint_operator_commands(image):
    assert "migrate" in image("help").stdout
    image("migrate")
    first = image("seed")
    assert "violations 6" in first.stdout, first.stdout
    again = image("seed")
    assert "violations 0" in again.stdout, again.stdout
    made = image("create-key", "idlib-monitors", "reporter")
    assert re.fullmatch(r"cl_\S+", made.stdout.strip().splitlines()[-1]), made.stdout
    wrong = image("create-key", "idlib-monitors", check=False)
    assert wrong.returncode == 2 and "usage: create-key ORG ROLE" in wrong.stderr
    # Any other command runs as given, as `docker run IMAGE alembic current` would.
    assert "(head)" in image("alembic", "current").stdout


def test_serve_needs_a_secret_key(image):
    refused = image("serve", check=False)
    assert refused.returncode == 2
    assert "SECRET_KEY is not set" in refused.stderr


def test_commands_run_unprivileged_where_they_can(image):
    uid = int(image("id", "-u").stdout)
    if image.unprivileged or os.environ.get("IMAGE_VENV_BIN"):
        assert uid == NOBODY
    else:
        assert uid == os.geteuid()


def test_serve_and_healthcheck_on_the_configured_port(image, tmp_path):
    image("migrate")
    image("seed")
    key = image("create-key", "dev", "admin").stdout.strip().splitlines()[-1]
    port = _free_port()
    # Loopback for the test; the image's default is 0.0.0.0:$PORT.
    bind = f"127.0.0.1:{port}"
    assert image("healthcheck", check=False, BIND=bind).returncode != 0  # nothing listens yet
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [*image.command, "serve"],
        cwd=image.data,
        env={**image.env, "BIND": bind, "SECRET_KEY": "image-test"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while image("healthcheck", check=False, BIND=bind).returncode != 0:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.3)
        # The HEALTHCHECK as the image runs it: PORT alone says where serve listens.
        assert image("healthcheck", check=False, PORT=str(port)).returncode == 0
        assert image("healthcheck", check=False, PORT=str(_free_port())).returncode != 0
        request = urllib.request.Request(
            f"http://{bind}/v1/parties?q=hts", headers={"Authorization": f"Bearer {key}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (http, built here)
            assert "hts" in [p["id"] for p in json.load(response)["items"]]
    finally:
        server.terminate()
        server.wait(20)
        log.close()
