"""`make bench`: Ceasefire Ledger over HTTP against a plain Core ceiling and Datasette; scale.

    bash bench/run.sh                       # what `make bench` runs (installs wrk, Datasette)
    N=1000000 bash bench/run.sh             # the main comparison on a million rows
    SCALE_1M=1 bash bench/run.sh            # adds the 1M point to the scale table

Environment (see bench/README.md): N (default 100000), SCALE_1M=1, WRK_THREADS /
WRK_CONNECTIONS / WRK_DURATION (2 / 16 / 15s, the same for every read and create run),
WRK_BATCH_DURATION (15s), BENCH_ROUNDS (2), WEB_CONCURRENCY (2 gunicorn workers, for our service
and the ceiling alike), PROFILE=0, BENCH_SQLITE=0, BENCH_STATS_ALL=1, BENCH_API_ROWS,
BENCH_SCALE=a,b, BENCH_REUSE=1, BENCH_STRICT=1.

Everything runs on this machine, on 127.0.0.1: PostgreSQL, the servers and wrk share its cores.
Results: bench/results/run-<UTC time>/ (results.json, tables.txt, profiles, server logs).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import load as loader  # noqa: E402  (bench/load.py)

STAMP = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
OUT = loader.RESULTS / f"run-{STAMP}"
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
DS_VENV = BENCH / ".venv-datasette" / "bin"
WRK_THREADS = os.environ.get("WRK_THREADS", "2")
WRK_CONNECTIONS = os.environ.get("WRK_CONNECTIONS", "16")
WRK_DURATION = os.environ.get("WRK_DURATION", "15s")
WRK_ARGS = ["-t", WRK_THREADS, "-c", WRK_CONNECTIONS, "-d", WRK_DURATION, "--timeout", "30s"]
# A batch of 500 keeps a worker's CPU busy (threads of one worker share its interpreter lock):
# 16 connections would only queue (and leave work behind when wrk stops), so one per worker.
BATCH_WRK_ARGS = [
    "-t",
    "2",
    "-c",
    os.environ.get("WEB_CONCURRENCY", "2"),
    "-d",
    os.environ.get("WRK_BATCH_DURATION", "15s"),
    "--timeout",
    "120s",
]
WORKERS = os.environ.get("WEB_CONCURRENCY", "2")
MAX_BODY = str(8 * 1024 * 1024)
LOG = []


def say(text: str = "") -> None:
    print(text, flush=True)
    LOG.append(text)


# --- servers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def stop(self) -> None:
        if self.proc.poll() is None:
            # Our own process group (start_new_session), nothing else.
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def start(name: str, cmd: list[str], env: dict[str, str], port: int, health: str) -> Server:
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / f"{name}.log"
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=sink, stderr=sink, start_new_session=True
        )
    server = Server(name, port, proc, log)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(server.base + health, timeout=2) as resp:
                if resp.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise SystemExit(f"{name} did not answer {health} within 90 s; see {log}")


def gunicorn_env(url: str, secret: str, **extra: str) -> dict[str, str]:
    env = loader.service_env(url, secret, MAX_BODY_BYTES=MAX_BODY, WEB_CONCURRENCY=WORKERS)
    env.pop("GUNICORN_THREADS", None)
    env["LOG_LEVEL"] = os.environ.get("BENCH_LOG_LEVEL", "INFO")  # as deployed: a JSON line each
    env.update(extra)
    return env


def start_ours(url: str, secret: str, tag: str = "") -> Server:
    port = free_port()
    env = gunicorn_env(url, secret, BIND=f"127.0.0.1:{port}")
    cmd = [GUNICORN, "-c", "gunicorn.conf.py", "service.wsgi:app"]
    return start(f"ledger{tag}", cmd, env, port, "/healthz")


def start_service(url: str, secret: str):
    """For bench/load.py: the service for the API part of a load; returns (port, stop)."""
    server = start_ours(url, secret, "-load")
    return server.port, server.stop


def start_ceiling(url: str, secret: str) -> Server:
    port = free_port()
    env = gunicorn_env(url, secret, BIND=f"127.0.0.1:{port}")
    cmd = [GUNICORN, "-c", "gunicorn.conf.py", "bench.ceiling_app:app"]
    return start("ceiling", cmd, env, port, "/healthz")


def start_datasette(db_file: Path) -> Server:
    port = free_port()
    cmd = [
        str(DS_VENV / "datasette"),
        "serve",
        str(db_file),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "--setting",
        "sql_time_limit_ms",
        "30000",
        "--setting",
        "default_page_size",
        "50",
    ]
    return start("datasette", cmd, dict(os.environ), port, "/-/versions.json")


# --- measuring ----------------------------------------------------------------------------------


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
    name: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    paths: list[str] | None = None,
    args: list[str] | None = None,
) -> Result:
    env = dict(os.environ)
    if body is not None:
        path = OUT / f"body-{name.replace(' ', '_').replace('/', '_')}.json"
        path.write_bytes(body)
        env["WRK_BODY_FILE"] = str(path)
    if paths is not None:
        path = OUT / f"paths-{name.replace(' ', '_').replace('/', '_')}.txt"
        path.write_text("\n".join(paths) + "\n")
        env["WRK_PATHS_FILE"] = str(path)
    load_before = os.getloadavg()[0]
    cmd = ["wrk", *(args or WRK_ARGS), "-s", str(BENCH / "wrk.lua")]
    for key, value in (headers or {}).items():
        cmd += ["-H", f"{key}: {value}"]
    cmd.append(url)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    data = json.loads(line[len("WRKJSON ") :])
    seconds = data["duration_us"] / 1e6
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    res = Result(
        name=name,
        rps=data["requests"] / seconds,
        p50_ms=data["p50"] / 1000,
        p90_ms=data["p90"] / 1000,
        p99_ms=data["p99"] / 1000,
        requests=data["requests"],
        errors=errors,
        seconds=seconds,
        bytes_per_request=data["bytes"] / max(1, data["requests"]),
        extra={**data, "loadavg_before": load_before, "loadavg_after": os.getloadavg()[0]},
    )
    flag = f"  ERRORS {errors} ({data})" if errors else ""
    say(
        f"    {name:<44} {res.rps:9.1f} req/s  p50 {res.p50_ms:8.1f} ms  "
        f"p99 {res.p99_ms:8.1f} ms{flag}"
    )
    return res


ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
# /v1/stats over the whole table grows with N by nature: shown only when asked for.
STATS_ALL = os.environ.get("BENCH_STATS_ALL") == "1"


def in_rounds(
    runs: list[tuple[str, str, str, dict[str, str] | None]],
    body: bytes | None = None,
    settle=None,
) -> dict[str, Result]:
    """The runs of a comparison one after another, BENCH_ROUNDS times (default 2), so that a
    change in the machine's background load falls on both sides; each side's result combines
    its rounds (requests/s over all of them, the median p50, the worst p99)."""
    got: dict[str, list[Result]] = {key: [] for key, *_ in runs}
    for i in range(ROUNDS):
        for key, name, url, headers in runs:
            got[key].append(wrk(f"{name} [{i + 1}/{ROUNDS}]", url, headers, body=body))
            if settle is not None:
                settle()
    out = {}
    for key, name, *_ in runs:
        parts = got[key]
        p50s = sorted(p.p50_ms for p in parts)
        requests = sum(p.requests for p in parts)
        seconds = sum(p.seconds for p in parts)
        out[key] = Result(
            name=name,
            rps=requests / seconds,
            p50_ms=p50s[len(p50s) // 2],
            p90_ms=max(p.p90_ms for p in parts),
            p99_ms=max(p.p99_ms for p in parts),
            requests=requests,
            errors=sum(p.errors for p in parts),
            seconds=seconds,
            bytes_per_request=sum(p.bytes_per_request * p.requests for p in parts)
            / max(1, requests),
            note="rounds: " + ", ".join(f"{p.rps:.1f}" for p in parts) + " req/s",
            extra={"rounds": [p.__dict__ for p in parts]},
        )
    return out


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def warm(url: str, headers: dict[str, str] | None = None, times: int = 30) -> None:
    for _ in range(times):
        status, body = get(url, headers)
        if status != 200:
            raise SystemExit(f"warm-up of {url} answered {status}: {body[:300]!r}")


def drain(url: str, before: int, quiet: float = 1.5, limit: float = 600.0) -> tuple[int, float]:
    """Wait until the server has finished the requests wrk left in flight: no other session on
    the database is running a statement or holding a transaction open, for `quiet` seconds.
    Returns (violations written since `before`, seconds until the last busy moment)."""
    import psycopg

    began = time.monotonic()
    last_busy = began
    with psycopg.connect(loader.libpq(url), autocommit=True) as conn:
        name = conn.execute("SELECT current_database()").fetchone()[0]
        while time.monotonic() - began < limit:
            busy = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> "
                "pg_backend_pid() AND state IN ('active', 'idle in transaction')",
                (name,),
            ).fetchone()[0]
            if busy:
                last_busy = time.monotonic()
            elif time.monotonic() - last_busy >= quiet:
                break
            time.sleep(0.1)
    return count_violations(url) - before, last_busy - began


def count_violations(url: str) -> int:
    import psycopg

    with psycopg.connect(loader.libpq(url)) as conn:
        return conn.execute("SELECT count(*) FROM violations").fetchone()[0]


def export_csv(base: str, auth: dict[str, str]) -> dict[str, Any]:
    cmd = [
        "curl",
        "-sS",
        "--fail",
        "-H",
        f"Authorization: {auth['Authorization']}",
        f"{base}/v1/violations/export?format=csv",
    ]
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    lines = size = 0
    assert proc.stdout is not None
    while chunk := proc.stdout.read(1 << 20):
        lines += chunk.count(b"\n")
        size += len(chunk)
    rc = proc.wait()
    seconds = time.perf_counter() - began
    if rc:
        raise SystemExit(f"curl of the export failed with {rc}")
    rows = lines - 1  # the header line
    return {"rows": rows, "seconds": seconds, "bytes": size, "rows_per_s": rows / seconds}


# --- profiling ----------------------------------------------------------------------------------

# Phases of a request: (label, file, qualnames); a sample counts for a phase when one of its
# frames is that function (inclusive, so phases nest: the list query includes its round trips).
PHASES = [
    ("before the view: key lookup (auth.authenticate)", "service/auth.py", {"authenticate"}),
    ("arguments: query string or body (webargs Parser.parse)", "webargs/core.py", {"Parser.parse"}),
    (
        "the list query: execute + rows (list_page_json on PostgreSQL, list_page)",
        "service/core/query.py",
        {"list_page", "list_page_json"},
    ),
    (
        "  of which selectin load of affected parties",
        "sqlalchemy/orm/strategies.py",
        {"SelectInLoader._load_for_path"},
    ),
    (
        "violation_view (violation + claims + history: GET one, POST answer)",
        "service/resources/violations/present.py",
        {"violation_view"},
    ),
    ("request body validation (marshmallow Schema.load)", "marshmallow/schema.py", {"Schema.load"}),
    ("create: core violations.create", "service/core/violations.py", {"create"}),
    ("  of which the writer's rows (bulk.Writer.add)", "service/core/bulk.py", {"Writer.add"}),
    ("  of which the audit entries (audit.write_with)", "service/core/audit.py", {"write_with"}),
    ("  of which the search document", "service/core/search.py", {"search_document"}),
    ("ORM flush (Session.flush, anywhere)", "sqlalchemy/orm/session.py", {"Session.flush"}),
    ("commit (Session.commit)", "sqlalchemy/orm/session.py", {"Session.commit"}),
    (
        "waiting on PostgreSQL (psycopg send/wait)",
        "psycopg/",
        {"BaseCursor._send_query_prepared", "BaseCursor._execute_send", "Connection.wait"},
    ),
    (
        "item dicts (present.list_items; summary_view for one violation)",
        "service/resources/violations/present.py",
        {"list_items", "summary_view"},
    ),
    ("response dump (marshmallow Schema.dump)", "marshmallow/schema.py", {"Schema.dump"}),
    (
        "ETag (flask-smorest: json.dumps sort_keys + sha1 of the dump)",
        "flask_smorest/etag.py",
        {"EtagMixin._set_etag_in_response", "EtagMixin._generate_etag"},
    ),
    (
        "response JSON encoding (flask jsonify)",
        "flask/json/provider.py",
        {"DefaultJSONProvider.response"},
    ),
    (
        "response: JSON encoding + ETag of the body (spec.Blueprint.json_response)",
        "service/resources/spec.py",
        {"Blueprint.json_response"},
    ),
    (
        "after the view: commit, idempotency, log, metrics (_finish)",
        "service/__init__.py",
        {"_register_hooks.<locals>._finish"},
    ),
    ("  of which the JSON request log", "logging/__init__.py", {"Logger.info"}),
    (
        "  of which prometheus metrics",
        "prometheus_client/metrics.py",
        {"Counter.inc", "Histogram.observe"},
    ),
    (
        "session close / connection return (teardown)",
        "service/__init__.py",
        {"_register_hooks.<locals>._close"},
    ),
    (
        "session creation + pool checkout + pre-ping",
        "sqlalchemy/pool/base.py",
        {"_ConnectionRecord.checkout", "_ConnectionFairy._checkout"},
    ),
    ("ceiling: list_violations", "ceiling_app.py", {"list_violations"}),
    ("ceiling: item dicts (_item)", "ceiling_app.py", {"_item"}),
]
# Where the CPU is: each sample goes to the innermost frame from one of these (exclusive).
MODULES = [
    ("psycopg (driver: send, wait, fetch, adapt)", ("psycopg/", "psycopg_binary")),
    ("SQLAlchemy ORM", ("sqlalchemy/orm/",)),
    ("SQLAlchemy Core (engine, sql, pool)", ("sqlalchemy/",)),
    ("marshmallow", ("marshmallow/",)),
    ("webargs", ("webargs/",)),
    ("flask-smorest", ("flask_smorest/",)),
    ("json (stdlib encoder/decoder)", ("json/",)),
    ("logging + JSON formatter", ("logging/", "pythonjsonlogger/")),
    ("prometheus_client", ("prometheus_client/",)),
    ("hashlib/uuid/datetime etc. (stdlib)", ("hashlib", "uuid.py", "datetime", "base64")),
    ("service code (service/)", ("service/",)),
    ("ceiling app", ("ceiling_app.py",)),
    ("itsdangerous (cursor signing)", ("itsdangerous/",)),
    ("werkzeug", ("werkzeug/",)),
    ("flask", ("flask/",)),
    ("gunicorn", ("gunicorn/",)),
]


def _split(frame: str) -> tuple[str, str]:
    name, _, where = frame.partition(" (")
    return name, where.rstrip(")").rsplit(":", 1)[0]


def summarise_profile(raw_files: list[Path]) -> dict[str, Any]:
    """Inclusive share of busy samples per request phase, exclusive share per module, and the
    top self-time frames. Samples of a worker idle between requests are left out."""
    busy = idle = 0
    phases: Counter[str] = Counter()
    modules: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    for raw in raw_files:
        for line in raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = [_split(f) for f in stack.split(";")]
            # Sync and gthread workers alike (SyncWorker / ThreadWorker.handle_request).
            if not any(q.endswith("Worker.handle_request") for q, _ in frames):
                idle += n  # accept()/select() between requests, or the arbiter's loop
                continue
            busy += n
            for label, path, names in PHASES:
                if any(q in names and path in f for q, f in frames):
                    phases[label] += n
            for _q, f in reversed(frames):
                owner = next(
                    (lab for lab, needles in MODULES if any(x in f for x in needles)), None
                )
                if owner:
                    modules[owner] += n
                    break
            else:
                modules["other"] += n
            q, f = frames[-1]
            leaf[f"{q} ({'/'.join(f.split('/')[-2:])})"] += n
    total = max(busy, 1)
    return {
        "samples_busy": busy,
        "samples_idle": idle,
        "phases": {k: 100.0 * phases[k] / total for k, _p, _n in PHASES if phases[k]},
        "modules": {k: 100.0 * v / total for k, v in modules.most_common()},
        "self_top": [(k, 100.0 * v / total) for k, v in leaf.most_common(12)],
    }


def profile(
    server: Server, url: str, headers: dict[str, str], label: str, body: bytes | None = None
) -> dict | None:
    """py-spy record (raw stacks, 200 Hz, non-blocking) on every worker of `server` for 10 s
    while wrk runs the same request as the measured run; summarised by summarise_profile."""
    spy = DS_VENV / "py-spy"
    if not spy.exists():
        say("    (py-spy is not installed in bench/.venv-datasette: no profile)")
        return None
    seconds = 10
    procs, raws = [], []
    for pid in server.workers():
        raw = OUT / f"profile-{label}-{pid}.txt"
        raws.append(raw)
        procs.append(
            subprocess.Popen(
                [
                    str(spy),
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(seconds),
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "--output",
                    str(raw),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
    time.sleep(1)
    res = wrk(f"{label} (under py-spy, not counted)", url, headers, body=body)
    problems = []
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        if proc.returncode:
            problems.append(err.decode(errors="replace")[-500:])
    raws = [r for r in raws if r.exists()]
    if not raws:
        say(f"    py-spy failed: {problems}")
        return None
    summary = summarise_profile(raws)
    summary["rps_under_profiler"] = res.rps
    summary["files"] = [str(r) for r in raws]
    return summary


def print_profile(summary: dict) -> None:
    say(
        f"  {summary['samples_busy']} busy samples ({summary['samples_idle']} idle) over the "
        "workers; share of busy worker time by request phase (inclusive, phases nest):"
    )
    for label, pct in summary["phases"].items():
        say(f"    {pct:5.1f}%  {label}")
    say("  by module (each sample to its innermost library frame; sums to 100%):")
    for label, pct in summary["modules"].items():
        say(f"    {pct:5.1f}%  {label}")
    say("  top self time (leaf frames):")
    for label, pct in summary["self_top"]:
        say(f"    {pct:5.1f}%  {label}")


# --- the run ----------------------------------------------------------------------------------


def gunicorn_settings() -> str:
    import runpy

    env = {k: v for k, v in os.environ.items() if k != "GUNICORN_THREADS"}
    env["WEB_CONCURRENCY"] = WORKERS
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    threads = int(conf.get("threads", 1))
    kind = conf.get("worker_class") or ("gthread" if threads > 1 else "sync")
    return f"{conf.get('workers')} workers x {threads} threads ({kind})"


def machine() -> dict[str, str]:
    def sh(cmd: str) -> str:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()

    return {
        "nproc": sh("nproc"),
        "cpu": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
        "free -h": sh("free -h"),
        "python": platform.python_version(),
        "postgresql": sh("psql -h 127.0.0.1 -U postgres -Atc 'show server_version'"),
        "wrk": sh("wrk --version 2>&1 | head -1"),
        "datasette": sh(f"{DS_VENV / 'datasette'} --version"),
        "gunicorn (gunicorn.conf.py, for ours and the ceiling)": gunicorn_settings(),
        "wrk args": " ".join(WRK_ARGS),
    }


def dataset(n: int) -> loader.Dataset:
    if os.environ.get("BENCH_REUSE") == "1":
        saved = loader.Dataset.saved(n)
        if saved is not None:
            try:
                have = count_violations(saved.url)
            except Exception:  # noqa: BLE001 (any failure: load it afresh)
                have = -1
            if have >= n:
                say(f"  [{loader.db_name(n)}] reused ({have:,} violations): BENCH_REUSE=1")
                return saved
    return loader.load(n, start_server=start_service)


def list_path(ds: loader.Dataset, since: str, limit: int = 50) -> str:
    q = urllib.parse.urlencode(
        {"attributed_party": ds.party, "occurred_from": since, "limit": limit}
    )
    return f"/v1/violations?{q}"


def stats_path(since: str | None) -> str:
    q = {"group_by": "attributed_party"}
    if since:
        q["occurred_from"] = since
    return "/v1/stats?" + urllib.parse.urlencode(q)


def scale_point(ds: loader.Dataset, server: Server, auth: dict[str, str]) -> dict[str, Result]:
    out = {}
    for key, path in (
        ("list recent", list_path(ds, ds.recent_from)),
        ("list all-time", list_path(ds, ds.all_from)),
        ("stats recent", stats_path(ds.recent_from)),
        *([("stats all-time", stats_path(None))] if STATS_ALL else []),
    ):
        warm(server.base + path, auth, 10)
        out[key] = wrk(f"{key} @ {ds.n:,}", server.base + path, auth)
    for key, ms in sql_timings(ds).items():
        if key in out:
            out[key].extra["sql_ms"] = ms
    say(
        "    SQL timed by PostgreSQL (EXPLAIN ANALYZE of the statements the service runs, median "
        "of 5, planning + execution), and the plan of the first statement:"
    )
    for key, v in sql_timings_cache[ds.n].items():
        say(
            f"      {key:<14} {v['total']:7.2f} ms in {v['statements']} statements; {v['plans'][0]}"
        )
    return out


sql_timings_cache: dict[int, dict[str, dict[str, Any]]] = {}


def sql_timings(ds: loader.Dataset, repeat: int = 5) -> dict[str, dict[str, Any]]:
    """The SQL that core.query runs for each scale query (captured from a session on the
    database), timed by PostgreSQL itself with EXPLAIN (ANALYZE): a measure of the database's
    part that the machine's background load hardly moves. The plans go to results.json."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.orm import Session

    from service.core import query, stats

    engine = create_engine(ds.url)
    captured: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _capture(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    cases = {
        "list recent": ("list", ds.recent_from),
        "list all-time": ("list", ds.all_from),
        "stats recent": ("stats", ds.recent_from),
        **({"stats all-time": ("stats", None)} if STATS_ALL else {}),
    }
    out: dict[str, dict[str, Any]] = {}
    try:
        for key, (kind, since) in cases.items():
            filters: dict[str, Any] = {}
            if since:
                filters["occurred_from"] = datetime.fromisoformat(since)
            captured.clear()
            with Session(engine) as session:
                if kind == "list":
                    filters["attributed_party"] = ds.party
                    query.list_page_json(session, filters, None, 51)
                else:
                    stats.grouped(session, filters, ["attributed_party"])
            statements = list(captured)
            totals, plans = [], []
            with engine.connect() as conn:
                raw = conn.connection.driver_connection
                for _ in range(repeat):
                    total = 0.0
                    plans = []
                    for statement, params in statements:
                        with raw.cursor() as cur:
                            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params)
                            plan = cur.fetchone()[0][0]
                        total += plan["Planning Time"] + plan["Execution Time"]
                        plans.append(plan)
                    totals.append(total)
                raw.rollback()
            totals.sort()
            out[key] = {
                "total": totals[len(totals) // 2],
                "statements": len(statements),
                "plans": [_plan_line(p["Plan"]) for p in plans],
            }
    finally:
        engine.dispose()
    sql_timings_cache[ds.n] = out
    return out


def _plan_line(node: dict[str, Any]) -> str:
    """The plan's nodes, outermost first, e.g. 'Limit > Sort > Index Scan ix_...'."""
    parts = []
    while node:
        name = node["Node Type"]
        if node.get("Index Name"):
            name += f" {node['Index Name']}"
        parts.append(name)
        children = node.get("Plans") or []
        node = children[0] if children else None
    return " > ".join(parts)


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def main() -> int:
    n = int(os.environ.get("N", "100000"))
    scale_ns = [10_000, 100_000] + ([1_000_000] if os.environ.get("SCALE_1M") == "1" else [])
    if os.environ.get("BENCH_SCALE"):  # e.g. BENCH_SCALE=5000,20000 for a quick try
        scale_ns = [int(x) for x in os.environ["BENCH_SCALE"].split(",")]
    OUT.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    info = machine()
    say(f"Ceasefire Ledger bench, {STAMP}; results in {OUT.relative_to(ROOT)}")
    for key, value in info.items():
        say(f"  {key}: {value}" if "\n" not in value else f"  {key}:\n{value}")

    # 1. load --------------------------------------------------------------------------------
    say(f"\n== 1. load N={n:,} into PostgreSQL")
    t = time.perf_counter()
    ds = dataset(n)
    say(
        f"  direct path (COPY, same tables and shapes): {ds.bulk_rows:,} violations in "
        f"{ds.bulk_seconds:.1f}s = {ds.bulk_rows / max(ds.bulk_seconds, 1e-9):,.0f}/s"
    )
    say(
        f"  batch API (POST /v1/violations/batch, {ds.api_batches} batches of 500, each item "
        f"with one claim + one inline source, 2 clients): {ds.api_rows:,} violations in "
        f"{ds.api_seconds:.1f}s = {ds.api_rate:,.0f} violations/s"
    )
    say(f"  rows: {ds.counts}; load took {time.perf_counter() - t:.0f}s")
    lite = loader.RESULTS / f"violations_{n}.db"
    t = time.perf_counter()
    loader.sqlite_violations(ds.url, lite)
    say(
        f"  SQLite copy of the violations table for Datasette: {lite.relative_to(ROOT)} "
        f"({lite.stat().st_size / 1e6:.0f} MB, {time.perf_counter() - t:.0f}s)"
    )

    auth = {"Authorization": f"Bearer {ds.reader_key}"}
    writer = {"Authorization": f"Bearer {ds.reporter_key}"}
    ours = start_ours(ds.url, ds.secret_key)
    ceiling = start_ceiling(ds.url, ds.secret_key)
    datasette = start_datasette(lite)
    results: dict[str, Any] = {
        "machine": info,
        "n": n,
        "dataset": {k: v for k, v in ds.__dict__.items() if not k.endswith("_key")},
    }
    try:
        # 2. reads ------------------------------------------------------------------------------
        recent = ds.recent_from
        ours_list = ours.base + list_path(ds, recent)
        q = urllib.parse.urlencode(
            {"attributed_party": ds.party, "occurred_from": recent, "limit": 50}
        )
        ceiling_list = f"{ceiling.base}/list?{q}"
        ceiling_auth = f"{ceiling.base}/list?{q}&auth=1"
        lite_since = datetime.fromisoformat(recent).strftime("%Y-%m-%d %H:%M:%S")
        dq = urllib.parse.urlencode(
            {
                "attributed_party_id": ds.party,
                "occurred_at__gte": lite_since,
                "_size": 50,
                "_nocount": 1,
                "_nofacet": 1,
                "_shape": "objects",
                "_sort": "created_at",
            }
        )
        ds_list = f"{datasette.base}/{lite.stem}/violations.json?{dq}"
        for url, hdr in (
            (ours_list, auth),
            (ceiling_list, None),
            (ceiling_auth, auth),
            (ds_list, None),
        ):
            warm(url, hdr)
        same = compare_pages(ours_list, ceiling_list, ds_list, auth)
        say(
            f"\n== 2. HTTP, wrk {' '.join(WRK_ARGS)} (same for every run); gunicorn "
            f"{gunicorn_settings()} for ours and the ceiling; Datasette is one process"
        )
        say(
            f"  list = attributed_party={ds.party}, occurred_from={recent} (last "
            f"{loader.RECENT_DAYS} days), limit=50; first pages: {same}"
        )
        r: dict[str, Result] = {}
        r.update(
            in_rounds(
                [
                    ("list ours", "GET /v1/violations (ours)", ours_list, auth),
                    ("list ceiling", "GET /list (ceiling: Flask + Core)", ceiling_list, None),
                    ("list datasette", "GET violations.json (Datasette, SQLite)", ds_list, None),
                ]
            )
        )
        if os.environ.get("BENCH_CEILING_AUTH") == "1":
            r["list ceiling+auth"] = wrk(
                "GET /list?auth=1 (ceiling + key lookup)", ceiling_auth, auth
            )
        if os.environ.get("BENCH_SQLITE", "1") == "1":
            r["list ours sqlite"] = list_on_sqlite(ds, list_path(ds, recent), auth)
        paths = [f"/v1/violations/{vid}" for vid in ds.sample_ids]
        warm(ours.base + paths[0], auth)
        r["get ours"] = wrk(
            "GET /v1/violations/{id} (ours, with claims)", ours.base, auth, paths=paths
        )
        say("  full CSV export (one curl):")
        export = export_csv(ours.base, auth)
        say(
            f"    {export['rows']:,} rows in {export['seconds']:.2f}s = "
            f"{export['rows_per_s']:,.0f} rows/s ({export['bytes'] / 1e6:.0f} MB)"
        )
        results["export"] = export

        # 4. profile before optimising ------------------------------------------------------
        list_ratio = ratio(r["list ours"].rps, r["list ceiling"].rps)
        if os.environ.get("PROFILE", "1") == "1":
            say(
                f"\n== 4. profile of the list (ratio to the ceiling {list_ratio:.2f}): py-spy "
                "record on both workers while wrk runs the same list"
            )
            targets = [("list ours", ours, ours_list, auth)]
            if os.environ.get("PROFILE_CEILING") == "1":
                targets.append(("list ceiling", ceiling, ceiling_list, {}))
            for key, server, url, hdr in targets:
                prof = profile(server, url, hdr, key.replace(" ", "-"))
                if prof:
                    print_profile(prof)
                    results[f"profile {key}"] = prof

        # scale point at N, measured before the writes below add rows.
        scale: dict[int, dict[str, Result]] = {}
        if n in scale_ns:
            say(f"\n  scale point {n:,} (this database, before the writes):")
            scale[n] = scale_point(ds, ours, auth)

        # writes ---------------------------------------------------------------------------
        say("\n  writes (each run waits afterwards until the server has finished what wrk left):")
        end = datetime.fromisoformat(ds.end)
        one = json.dumps(loader.spec(n + 7, n, end)).encode()
        before = count_violations(ds.url)
        r.update(
            in_rounds(
                [
                    (
                        "create ours",
                        "POST /v1/violations (ours, 1 claim + source)",
                        ours.base + "/v1/violations",
                        writer,
                    ),
                    (
                        "create ceiling",
                        "POST /create (ceiling: plain Core inserts)",
                        ceiling.base + "/create",
                        writer,
                    ),
                ],
                body=one,
                settle=lambda: drain(ds.url, 0),
            )
        )
        made, _ = drain(ds.url, before)
        acked = r["create ours"].requests + r["create ceiling"].requests
        say(f"    creates: {acked:,} acknowledged, {made:,} violations written")
        if os.environ.get("PROFILE", "1") == "1":
            say("  profile of the create (py-spy on both workers, same request):")
            prof = profile(ours, ours.base + "/v1/violations", writer, "create-ours", body=one)
            drain(ds.url, 0)
            if prof:
                print_profile(prof)
                results["profile create ours"] = prof
        items = [loader.spec(i, n, end) for i in range(500)]
        bodies = {
            "batch ours": ("500 items, 1 claim + source each", {"items": items}),
            "batch ours simple": (
                "500 items, no claims",
                {"items": [{k: v for k, v in it.items() if k != "claims"} for it in items]},
            ),
        }
        for key, (label, body) in bodies.items():
            before = count_violations(ds.url)
            res = wrk(
                f"POST /v1/violations/batch ({label})",
                ours.base + "/v1/violations/batch",
                writer,
                body=json.dumps(body).encode(),
                args=BATCH_WRK_ARGS,
            )
            made, tail = drain(ds.url, before)
            # Every violation written, over the time until the server went idle: batches still
            # in flight when wrk stopped are finished and counted, not lost.
            res.extra["violations_per_s"] = made / (res.seconds + tail)
            res.note = (
                f"{res.extra['violations_per_s']:,.0f} violations/s = {made:,} written in "
                f"{res.seconds + tail:.1f}s ({res.requests * 500:,} acknowledged within wrk's "
                f"{res.seconds:.0f}s); wrk {' '.join(BATCH_WRK_ARGS)}"
            )
            r[key] = res
            say(f"    = {res.note}")
    finally:
        for server in (ours, ceiling, datasette):
            server.stop()

    # 3. scale ---------------------------------------------------------------------------------
    say(f"\n== 3. scale: list and stats on ledger_bench_<rows> at {scale_ns}")
    for sn in scale_ns:
        if sn in scale:
            continue
        sds = dataset(sn)
        say(
            f"  [{loader.db_name(sn)}] loaded: {sds.counts['violations']:,} violations "
            f"(bulk {sds.bulk_rows:,} in {sds.bulk_seconds:.0f}s; API {sds.api_rows:,} at "
            f"{sds.api_rate:,.0f}/s); total {sds.total_seconds:.0f}s"
        )
        server = start_ours(sds.url, sds.secret_key, f"-{sn}")
        try:
            scale[sn] = scale_point(sds, server, {"Authorization": f"Bearer {sds.reader_key}"})
        finally:
            server.stop()

    # tables -------------------------------------------------------------------------------
    tables = report(r, scale, ds, export, scale_ns)
    results["runs"] = {k: v.__dict__ for k, v in r.items()}
    results["scale"] = {str(k): {kk: vv.__dict__ for kk, vv in v.items()} for k, v in scale.items()}
    results["targets"] = tables["targets"]
    results["seconds"] = time.perf_counter() - began
    say(f"\nmake bench took {results['seconds']:.0f}s; results: {OUT.relative_to(ROOT)}")
    (OUT / "results.json").write_text(json.dumps(results, indent=2, default=str))
    (OUT / "tables.txt").write_text("\n".join(LOG) + "\n")
    latest = loader.RESULTS / "latest"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(OUT.name)
    missed = [t for t in tables["targets"] if not t["met"]]
    if missed and os.environ.get("BENCH_STRICT") == "1":
        return 1
    return 0


def list_on_sqlite(ds: loader.Dataset, path: str, auth: dict[str, str]) -> Result:
    """Our service itself on SQLite: the tables the list reads, copied into a file made by
    `alembic upgrade head`, served by the same gunicorn settings."""
    lite = loader.RESULTS / f"ledger_{ds.n}.sqlite"
    seconds = loader.sqlite_ledger(ds.url, lite, ds.secret_key)
    say(
        f"  SQLite copy of the ledger (schema by alembic; {', '.join(loader.LEDGER_TABLES)}): "
        f"{seconds:.0f}s"
    )
    server = start_ours(f"sqlite:///{lite}", ds.secret_key, "-sqlite")
    try:
        warm(server.base + path, auth)
        return wrk("GET /v1/violations (ours on SQLite)", server.base + path, auth)
    finally:
        server.stop()


def compare_pages(ours_url: str, ceiling_url: str, ds_url: str, auth: dict[str, str]) -> str:
    _, a = get(ours_url, auth)
    _, b = get(ceiling_url)
    _, c = get(ds_url)
    ia = [x["id"] for x in json.loads(a)["items"]]
    ib = [x["id"] for x in json.loads(b)["items"]]
    ic = [x["id"] for x in json.loads(c)["rows"]]
    return (
        f"ours {len(ia)} items ({len(a):,} B), ceiling {'same ids' if ia == ib else 'DIFFERENT'}"
        f" ({len(b):,} B), Datasette {len(set(ia) & set(ic))}/{len(ia)} same ids "
        f"({len(c):,} B)"
    )


def report(
    r: dict[str, Result],
    scale: dict[int, dict[str, Result]],
    ds: loader.Dataset,
    export: dict[str, Any],
    scale_ns: list[int],
) -> dict[str, Any]:
    say(f"\n== results (N={ds.n:,}; wrk {' '.join(WRK_ARGS)})")
    say(f"{'endpoint':<46} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}  notes")
    say("-" * 100)
    for res in r.values():
        say(
            f"{res.name:<46} {res.rps:>9.1f} {res.p50_ms:>9.1f} {res.p99_ms:>9.1f} "
            f"{res.errors:>7}  {res.note}"
        )
    say(
        f"{'CSV export, one curl':<46} {'':>9} {'':>9} {'':>9} {'':>7}  "
        f"{export['rows']:,} rows in {export['seconds']:.2f}s = {export['rows_per_s']:,.0f} rows/s"
    )
    say(
        f"{'batch API during the load':<46} {'':>9} {'':>9} {'':>9} {'':>7}  "
        f"{ds.api_rows:,} violations in {ds.api_batches} batches of 500 = "
        f"{ds.api_rate:,.0f} violations/s"
    )

    batch_rate = r["batch ours"].extra["violations_per_s"]
    simple_rate = r["batch ours simple"].extra["violations_per_s"]
    targets = [
        ("list / ceiling (plain Core)", ratio(r["list ours"].rps, r["list ceiling"].rps), 0.6),
        *(
            [
                (
                    "list / ceiling with key lookup (info)",
                    ratio(r["list ours"].rps, r["list ceiling+auth"].rps),
                    None,
                )
            ]
            if "list ceiling+auth" in r
            else []
        ),
        ("list / Datasette", ratio(r["list ours"].rps, r["list datasette"].rps), 3.0),
        *(
            [
                (
                    "list on SQLite / Datasette (info: both SQLite)",
                    ratio(r["list ours sqlite"].rps, r["list datasette"].rps),
                    None,
                )
            ]
            if "list ours sqlite" in r
            else []
        ),
        ("create / plain Core insert", ratio(r["create ours"].rps, r["create ceiling"].rps), 0.4),
        ("batch violations/s, 1 claim + source each (wrk)", batch_rate, 2000.0),
        ("batch violations/s, no claims (wrk)", simple_rate, 2000.0),
        ("batch violations/s, 1 claim + source (load)", ds.api_rate, 2000.0),
    ]
    say("\nratios and targets (throughput; ≥ target to pass)")
    out = []
    for label, value, target in targets:
        met = target is None or value >= target
        verdict = "info" if target is None else ("MET" if met else "MISSED")
        tgt = "" if target is None else f"≥ {target:g}"
        fmt = f"{value:,.0f}" if value > 100 else f"{value:.2f}"
        say(f"  {label:<46} {fmt:>9}  {tgt:<8} {verdict}")
        out.append({"what": label, "value": value, "target": target, "met": met})

    say(
        f"\nscale (p50 / p99 ms under the same wrk load; ratio = p50 at the largest / at "
        f"{scale_ns[0]:,}; target ≤ 1.5 for list and stats with a bounded filter)"
    )
    keys = ["list recent", "list all-time", "stats recent"] + (["stats all-time"] * STATS_ALL)
    head = f"{'query':<16}" + "".join(f"{f'{sn:,} rows':>22}" for sn in scale_ns) + "   ratio"
    say(head)
    for key in keys:
        cells = []
        for sn in scale_ns:
            res = scale.get(sn, {}).get(key)
            cells.append(f"{res.p50_ms:8.1f} / {res.p99_ms:7.1f}  " if res else f"{'-':>22}")
        first, last = scale.get(scale_ns[0], {}).get(key), scale.get(scale_ns[-1], {}).get(key)
        rat = ratio(last.p50_ms, first.p50_ms) if first and last else float("nan")
        bounded = key != "stats all-time"
        met = rat <= 1.5
        verdict = ("MET" if met else "MISSED") if bounded else "info (O(N) by nature)"
        say(f"{key:<16}" + "".join(f"{c:>22}" for c in cells) + f"   {rat:5.2f} {verdict}")
        if bounded:
            out.append(
                {
                    "what": f"scale {key} p50 {scale_ns[-1]:,}/{scale_ns[0]:,}",
                    "value": rat,
                    "target": 1.5,
                    "met": met,
                }
            )
    say("SQL time by PostgreSQL (ms, EXPLAIN ANALYZE, planning + execution; info)")
    say(head)
    for key in keys:
        cells, vals = [], []
        for sn in scale_ns:
            res = scale.get(sn, {}).get(key)
            sql = res.extra.get("sql_ms") if res else None
            vals.append(sql["total"] if sql else None)
            cells.append(f"{sql['total']:8.2f}  " if sql else f"{'-':>10}")
        rat = ratio(vals[-1], vals[0]) if vals[0] and vals[-1] else float("nan")
        say(f"{key:<16}" + "".join(f"{c:>22}" for c in cells) + f"   {rat:5.2f}")
    say(
        "  req/s: "
        + "; ".join(
            f"{sn:,}: " + ", ".join(f"{k} {scale[sn][k].rps:.0f}" for k in keys if k in scale[sn])
            for sn in scale_ns
            if sn in scale
        )
    )
    say(
        "  list recent = attributed_party + occurred_from the last 30 days (~6,000 rows match at "
        "any size, 200/day); list all-time = occurred_from before the first row; stats recent "
        "= group_by=attributed_party over the last 30 days"
        + ("; stats all-time = the whole table" if STATS_ALL else "")
    )
    return {"targets": out}


if __name__ == "__main__":
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (bench/run.sh installs it)")
    sys.exit(main())
