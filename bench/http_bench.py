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
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import harness
import load as loader
from harness import BENCH, ROOT, Result, Server

STAMP = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
OUT = harness.RESULTS / f"run-{STAMP}"
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
    loader.WORKERS,
    "-d",
    os.environ.get("WRK_BATCH_DURATION", "15s"),
    "--timeout",
    "120s",
]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
# /v1/stats over the whole table grows with N by nature: shown only when asked for.
STATS_ALL = os.environ.get("BENCH_STATS_ALL") == "1"
LOG = []


def say(text: str = "") -> None:
    print(text, flush=True)
    LOG.append(text)


def start_ours(url: str, secret: str, tag: str = "") -> Server:
    return loader.serve(url, secret, f"ledger{tag}", OUT)


def start_ceiling(url: str, secret: str) -> Server:
    return loader.serve(url, secret, "ceiling", OUT, app="bench.ceiling_app:app")


def start_datasette(db_file: Path) -> Server:
    port = harness.free_port()
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
    server = Server(
        "datasette", cmd, dict(os.environ), OUT / "datasette.log", port, health="/-/versions.json"
    )
    return server.start()


# --- measuring ----------------------------------------------------------------------------------


def wrk(
    name: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    paths: list[str] | None = None,
    args: list[str] | None = None,
) -> Result:
    res = harness.wrk(url, args or WRK_ARGS, OUT, name, headers, body, paths)
    res.name = name
    flag = f"  ERRORS {res.errors} ({res.extra})" if res.errors else ""
    say(
        f"    {name:<44} {res.rps:9.1f} req/s  p50 {res.p50_ms:8.1f} ms  "
        f"p99 {res.p99_ms:8.1f} ms{flag}"
    )
    return res


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


def warm(url: str, headers: dict[str, str] | None = None, times: int = 30) -> None:
    for _ in range(times):
        status, body = harness.get(url, headers)
        if status != 200:
            raise SystemExit(f"warm-up of {url} answered {status}: {body[:300]!r}")


def drain(url: str, before: int, quiet: float = 1.5, limit: float = 600.0) -> tuple[int, float]:
    """Wait until the server has finished the requests wrk left in flight: no other session on
    the database is running a statement or holding a transaction open, for `quiet` seconds.
    Returns (violations written since `before`, seconds until the last busy moment)."""
    import psycopg

    began = time.monotonic()
    last_busy = began
    with psycopg.connect(harness.libpq(url), autocommit=True) as conn:
        while time.monotonic() - began < limit:
            busy = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                "pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')"
            ).fetchone()[0]
            if busy:
                last_busy = time.monotonic()
            elif time.monotonic() - last_busy >= quiet:
                break
            time.sleep(0.1)
    return count_violations(url) - before, last_busy - began


def count_violations(url: str) -> int:
    return loader.sql(url, "SELECT count(*) FROM violations")[0][0]


def export_csv(base: str, auth: dict[str, str]) -> dict[str, Any]:
    url = f"{base}/v1/violations/export?format=csv"
    cmd = ["curl", "-sS", "--fail", "-H", f"Authorization: {auth['Authorization']}", url]
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
        {"BaseCursor._execute_send", "BaseCursor._send_query_prepared", "Connection.wait"},
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
        {"EtagMixin._generate_etag", "EtagMixin._set_etag_in_response"},
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
        {"_ConnectionFairy._checkout", "_ConnectionRecord.checkout"},
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
        cmd = f"record --pid {pid} --duration {seconds} --rate 200 --format raw --nonblocking"
        procs.append(
            subprocess.Popen(
                [str(spy), *cmd.split(), "--output", str(raw)],
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

    saved = dict(os.environ)
    os.environ.pop("GUNICORN_THREADS", None)
    os.environ["WEB_CONCURRENCY"] = loader.WORKERS
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
    saved = loader.Dataset.saved(n) if os.environ.get("BENCH_REUSE") == "1" else None
    if saved is not None:
        try:
            have = count_violations(saved.url)
        except Exception:  # noqa: BLE001 (any failure: load it afresh)
            have = -1
        if have >= n:
            say(f"  [{loader.db_name(n)}] reused ({have:,} violations): BENCH_REUSE=1")
            return saved
    return loader.load(n, logdir=OUT)


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
    timings = sql_timings(ds)
    for key, ms in timings.items():
        if key in out:
            out[key].extra["sql_ms"] = ms
    say(
        "    SQL timed by PostgreSQL (EXPLAIN ANALYZE of the statements the service runs, median "
        "of 5, planning + execution), and the plan of the first statement:"
    )
    for key, v in timings.items():
        say(
            f"      {key:<14} {v['total']:7.2f} ms in {v['statements']} statements; {v['plans'][0]}"
        )
    return out


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
    lite = harness.RESULTS / f"violations_{n}.db"
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
        ceiling_list = ceiling.base + list_path(ds, recent).replace("/v1/violations", "/list")
        ceiling_auth = f"{ceiling_list}&auth=1"
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
    latest = harness.RESULTS / "latest"
    latest.unlink(missing_ok=True)
    latest.symlink_to(OUT.name)
    missed = [t for t in tables["targets"] if not t["met"]]
    if missed and os.environ.get("BENCH_STRICT") == "1":
        return 1
    return 0


def list_on_sqlite(ds: loader.Dataset, path: str, auth: dict[str, str]) -> Result:
    """Our service itself on SQLite: the tables the list reads, copied into a file made by
    `alembic upgrade head`, served by the same gunicorn settings."""
    lite = harness.RESULTS / f"ledger_{ds.n}.sqlite"
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
    _, a = harness.get(ours_url, auth)
    _, b = harness.get(ceiling_url)
    _, c = harness.get(ds_url)
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
    rows = [
        [x.name, f"{x.rps:.1f}", f"{x.p50_ms:.1f}", f"{x.p99_ms:.1f}", x.errors, x.note]
        for x in r.values()
    ]
    rows.append(
        [
            "CSV export, one curl",
            "",
            "",
            "",
            "",
            f"{export['rows']:,} rows in "
            f"{export['seconds']:.2f}s = {export['rows_per_s']:,.0f} rows/s",
        ]
    )
    rows.append(
        [
            "batch API during the load",
            "",
            "",
            "",
            "",
            f"{ds.api_rows:,} violations in "
            f"{ds.api_batches} batches of 500 = {ds.api_rate:,.0f} violations/s",
        ]
    )
    head = ["endpoint", "req/s", "p50 ms", "p99 ms", "errors", "notes"]
    for line in harness.table(head, rows, right={1, 2, 3, 4}):
        say(line)

    def rps(a: str, b: str) -> float:
        return ratio(r[a].rps, r[b].rps)

    targets = [("list / ceiling (plain Core)", rps("list ours", "list ceiling"), 0.6)]
    if "list ceiling+auth" in r:
        lookup = rps("list ours", "list ceiling+auth")
        targets.append(("list / ceiling with key lookup (info)", lookup, None))
    targets.append(("list / Datasette", rps("list ours", "list datasette"), 3.0))
    if "list ours sqlite" in r:
        both = rps("list ours sqlite", "list datasette")
        targets.append(("list on SQLite / Datasette (info: both SQLite)", both, None))
    targets += [
        ("create / plain Core insert", rps("create ours", "create ceiling"), 0.4),
        (
            "batch violations/s, 1 claim + source each (wrk)",
            r["batch ours"].extra["violations_per_s"],
            2000.0,
        ),
        (
            "batch violations/s, no claims (wrk)",
            r["batch ours simple"].extra["violations_per_s"],
            2000.0,
        ),
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
    head = ["query", *(f"{sn:,} rows" for sn in scale_ns), "ratio", ""]
    rows, sql_rows = [], []
    for key in keys:
        got = [scale.get(sn, {}).get(key) for sn in scale_ns]
        rat = ratio(got[-1].p50_ms, got[0].p50_ms) if got[0] and got[-1] else float("nan")
        bounded = key != "stats all-time"
        met = rat <= 1.5
        verdict = ("MET" if met else "MISSED") if bounded else "info (O(N) by nature)"
        cells = [f"{x.p50_ms:.1f} / {x.p99_ms:.1f}" if x else "-" for x in got]
        rows.append([key, *cells, f"{rat:.2f}", verdict])
        if bounded:
            what = f"scale {key} p50 {scale_ns[-1]:,}/{scale_ns[0]:,}"
            out.append({"what": what, "value": rat, "target": 1.5, "met": met})
        sqls = [x.extra.get("sql_ms", {}).get("total") if x else None for x in got]
        rat = ratio(sqls[-1], sqls[0]) if sqls[0] and sqls[-1] else float("nan")
        sql_rows.append([key, *(f"{v:.2f}" if v else "-" for v in sqls), f"{rat:.2f}", ""])
    right = set(range(1, len(scale_ns) + 2))
    for line in harness.table(head, rows, right):
        say(line)
    say("SQL time by PostgreSQL (ms, EXPLAIN ANALYZE, planning + execution; info)")
    for line in harness.table(head, sql_rows, right):
        say(line)
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
