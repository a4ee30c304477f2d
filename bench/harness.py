"""What the benchmarks and the resilience run share: loopback servers, bench databases, wrk, tables.

Every server listens on 127.0.0.1 (a free port), every bench database on the shared PostgreSQL
is named ledger_bench_<something> (create_database refuses any other name), and each server
runs in a session of its own so that stopping it ends exactly its processes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BIN = ROOT / ".venv" / "bin"
RESULTS = BENCH / "results"
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_BASE = os.environ.get("BENCH_PG_BASE", "postgresql+psycopg://postgres@127.0.0.1:5432")
for path in (str(ROOT), str(BENCH)):
    if path not in sys.path:
        sys.path.insert(0, path)


def free_port(preferred: int | None = None) -> int:
    """The preferred loopback port when nothing listens there, else any free one."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free loopback port")


# --- databases and the service's CLI -------------------------------------------------------------


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def db_url(name: str) -> str:
    return f"{PG_BASE}/{name}"


def create_database(name: str) -> str:
    """Drop and create a bench database (only ledger_bench_* names); returns its URL."""
    import psycopg

    if not name.startswith("ledger_bench_"):
        raise ValueError(f"not a bench database: {name}")
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return db_url(name)


def service_env(url: str, secret: str, **extra: str) -> dict[str, str]:
    """The environment of the service's CLI and servers: this database, no rate limit."""
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY=secret, RATE_LIMIT="0")
    env.update(LOG_LEVEL="WARNING", FLASK_APP="service", PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def cli(env: dict[str, str], program: str, *args: str) -> str:
    """Run one of the venv's programs (alembic, flask) from the project root; its stdout."""
    done = subprocess.run(
        [str(BIN / program), *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


def make_key(env: dict[str, str], org: str, role: str) -> str:
    """A new API key through `flask keys create`."""
    return (
        cli(env, "flask", "keys", "create", "--org", org, "--role", role).strip().splitlines()[-1]
    )


# --- servers ---------------------------------------------------------------------------------


@dataclass
class Server:
    """A server on a loopback port in its own session (gunicorn: master and workers)."""

    name: str
    cmd: list[str]
    env: dict[str, str]
    log: Path
    port: int
    health: str = "/healthz"
    workers_wanted: int | None = None  # wait for this many workers too
    pidfile: Path | None = None  # lets a wrapper clean up after a crash
    stop_timeout: float = 30  # for a graceful stop, then SIGKILL
    proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def master(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 90) -> Server:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=ROOT,
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if self.pidfile:
            self.pidfile.write_text(str(self.proc.pid))
        try:
            self.wait_ready(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def workers(self) -> list[int]:
        path = Path(f"/proc/{self.master}/task/{self.master}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def wait_ready(self, old: set[int] = frozenset(), timeout: float = 30) -> None:
        """Until the health path answers 200 (and the wanted workers run, none of `old`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}); see {self.log}")
            pids = set(self.workers())
            wanted = self.workers_wanted in (None, len(pids)) and not pids & old
            if wanted and get(self.base + self.health, timeout=2)[0] == 200:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready within {timeout:.0f} s; see {self.log}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # graceful: gunicorn's master ends its workers
            try:
                self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.master, signal.SIGKILL)  # its own session: only its processes
                self.proc.wait(timeout=10)
        if self.pidfile:
            self.pidfile.unlink(missing_ok=True)


def gunicorn(
    name: str, env: dict[str, str], logdir: Path, app: str = "service.wsgi:app", **kw: Any
) -> Server:
    """The project's gunicorn.conf.py on a free loopback port (not started yet)."""
    port = free_port()
    env = {**env, "BIND": f"127.0.0.1:{port}", "PORT": str(port)}
    cmd = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", app]
    return Server(name, cmd, env, logdir / f"{name}.log", port, **kw)


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, bytes]:
    """Status and body of a GET; status 0 when nothing answered."""
    try:
        request = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


# --- wrk -----------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    errors: int
    seconds: float
    bytes_per_request: float
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def wrk(
    url: str,
    args: list[str],
    workdir: Path,
    tag: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    paths: list[str] | None = None,
) -> Result:
    """One wrk run with bench/wrk.lua (POST `body`, or cycle through `paths`), parsed."""
    env = dict(os.environ)
    tag = tag.replace(" ", "_").replace("/", "_")
    if body is not None:
        env["WRK_BODY_FILE"] = str(workdir / f"body-{tag}.json")
        Path(env["WRK_BODY_FILE"]).write_bytes(body)
    if paths is not None:
        env["WRK_PATHS_FILE"] = str(workdir / f"paths-{tag}.txt")
        Path(env["WRK_PATHS_FILE"]).write_text("\n".join(paths) + "\n")
    load_before = os.getloadavg()[0]
    cmd = ["wrk", *args, "-s", str(BENCH / "wrk.lua")]
    for key, value in (headers or {}).items():
        cmd += ["-H", f"{key}: {value}"]
    out = subprocess.run([*cmd, url], env=env, capture_output=True, text=True, check=True).stdout
    data = json.loads(next(x for x in out.splitlines() if x.startswith("WRKJSON "))[8:])
    seconds = data["duration_us"] / 1e6
    return Result(
        name=tag,
        rps=data["requests"] / seconds,
        p50_ms=data["p50"] / 1000,
        p90_ms=data["p90"] / 1000,
        p99_ms=data["p99"] / 1000,
        requests=data["requests"],
        errors=sum(data[k] for k in ("connect", "read", "write", "status", "timeout")),
        seconds=seconds,
        bytes_per_request=data["bytes"] / max(1, data["requests"]),
        extra={**data, "loadavg_before": load_before, "loadavg_after": os.getloadavg()[0]},
    )


# --- output --------------------------------------------------------------------------------------


def table(head: list[str], rows: list[list[Any]], right: set[int] = frozenset()) -> list[str]:
    """Lines of an aligned text table: the header, a rule, the rows (columns in `right` are
    right-aligned, e.g. numbers)."""
    cells = [head, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]

    def line(row: list[str]) -> str:
        pairs = enumerate(zip(row, widths, strict=True))
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in pairs).rstrip()

    return [line(cells[0]), "  ".join("-" * w for w in widths).rstrip(), *map(line, cells[1:])]
