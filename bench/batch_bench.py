"""Throughput of POST /v1/violations/batch: prints violations recorded per second.

    .venv/bin/python bench/batch_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/ledger_bench
    .venv/bin/python bench/batch_bench.py                      # a fresh SQLite file
    .venv/bin/python bench/batch_bench.py --http               # through a real gunicorn on loopback
    .venv/bin/python bench/batch_bench.py --profile out.prof   # cProfile of the timed batches
    .venv/bin/python bench/batch_bench.py --claims             # items as make bench loads them:
                                                               # one claim + one inline source each

The database is migrated to head (never dropped); each run adds its violations to it.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
import uuid
from pathlib import Path

import harness


def item(i: int, parties: list[str]) -> dict:
    """A simple violation: one party reference, a location and a casualty estimate."""
    day = 1 + i % 28
    return {
        "title": f"Shelling near Halfaya #{i}",
        "category": "shelling",
        "occurred_at": f"2018-11-{day:02d}T06:00:00Z",
        "occurred_until": f"2018-11-{day:02d}T18:00:00Z",
        "date_precision": "day",
        "attributed_party": parties[i % len(parties)],
        "location": {
            "name": "Halfaya",
            "admin1": "Hama",
            "country": "SY",
            "lat": 35.2603,
            "lon": 36.6075,
            "precision": "exact",
        },
        "casualties": {"killed": {"low": 1, "best": 2, "high": 3}},
        "tags": ["bench"],
    }


def setup(url: str, *, seeded: bool = False) -> tuple[str, list[str]]:
    from service import create_app, db
    from service.auth import Principal
    from service.core import keys, parties

    harness.cli(harness.service_env(url, "bench-batch"), "alembic", "upgrade", "head")
    app = create_app({"DATABASE_URL": url, "RATE_LIMIT": "0", "LOG_LEVEL": "WARNING"})
    if seeded:
        # The source article's parties and agreement, which the --claims items refer to.
        from service.seeding import load_seeds

        with app.app_context():
            load_seeds()
    org = f"bench-{uuid.uuid4().hex[:8]}"
    actor = Principal(org=org, role="admin", key_id=None)
    with db.session_scope() as session:
        _row, key = keys.create(session, None, org, "reporter")
        ids = []
        for n in range(5):
            pid = f"{org}-party-{n}"
            parties.create(session, actor, {"id": pid, "name": pid, "kind": "armed_group"})
            ids.append(pid)
    return key, ids


def backend_cpu(database: str | None) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving `database` (Linux /proc)."""
    if not database:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            if not cmdline.startswith("postgres: ") or f" {database} " not in cmdline:
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def process_cpu(pid: int | None) -> float:
    """CPU seconds of this process, or of a process group's members (gunicorn) when pid is set."""
    if pid is None:
        return time.process_time()
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for other in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{other}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pid:  # the process group
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    ap.add_argument("--size", type=int, default=500, help="items per batch")
    ap.add_argument("--batches", type=int, default=10, help="timed batches")
    ap.add_argument("--http", action="store_true", help="through gunicorn on loopback")
    ap.add_argument(
        "--clients",
        type=int,
        default=1,
        help="with --http: clients posting at once, and as many gunicorn workers (make bench: 2)",
    )
    ap.add_argument("--profile", metavar="FILE", help="write a cProfile of the timed batches")
    ap.add_argument(
        "--claims", action="store_true", help="each item with one claim and one inline source"
    )
    args = ap.parse_args()

    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='ledger-bench-')}/bench.db"
    os.environ["LOG_LEVEL"] = "WARNING"
    key, parties = setup(url, seeded=args.claims)
    headers = {"Authorization": f"Bearer {key}"}
    if args.claims:
        from datetime import UTC, datetime

        from load import spec

        total = (args.batches + 1) * args.size
        end = datetime.now(UTC).replace(microsecond=0)

        def make(i: int) -> dict:
            return spec(i, total, end)
    else:

        def make(i: int) -> dict:
            return item(i, parties)

    bodies = [
        {"items": [make(b * args.size + i) for i in range(args.size)]}
        for b in range(args.batches + 1)
    ]

    server = None
    if args.http:
        import threading

        import requests

        env = dict(
            os.environ,
            DATABASE_URL=url,
            RATE_LIMIT="0",
            WEB_CONCURRENCY=str(args.clients),
            MAX_BODY_BYTES=str(16 * 1024 * 1024),
        )
        server = harness.gunicorn("ledger-batch", env, harness.RESULTS).start(timeout=60)
        local = threading.local()

        def post(body):
            if not hasattr(local, "http"):
                local.http = requests.Session()
            resp = local.http.post(server.base + "/v1/violations/batch", json=body, headers=headers)
            return resp.status_code, resp.json()
    else:
        from service import create_app

        app = create_app(
            {"DATABASE_URL": url, "RATE_LIMIT": "0", "MAX_CONTENT_LENGTH": 16 * 1024 * 1024}
        )
        client = app.test_client()

        def post(body):
            resp = client.post("/v1/violations/batch", json=body, headers=headers)
            return resp.status_code, resp.get_json()

    try:
        post(bodies[0])  # warm-up: imports, connection pool, prepared caches
        profiler = cProfile.Profile() if args.profile else None
        database = url.rsplit("/", 1)[1] if url.startswith("postgresql") else None
        group = server.master if server is not None else None
        cpu_db, cpu_py = backend_cpu(database), process_cpu(group)
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        recorded = 0
        if args.clients > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(args.clients) as pool:
                answers = list(pool.map(post, bodies[1:]))
        else:
            answers = [post(body) for body in bodies[1:]]
        for status, answer in answers:
            assert status == 200, answer
            recorded += sum(1 for r in answer["results"] if r["status"] == 201)
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started
        cpu_db, cpu_py = backend_cpu(database) - cpu_db, process_cpu(group) - cpu_py
    finally:
        if server is not None:
            server.stop()
    if profiler:
        profiler.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(25)
    backend = url.split(":", 1)[0]
    mode = (
        f"gunicorn ({args.clients} workers, {args.clients} clients)" if args.http else "test client"
    )
    assert recorded == args.batches * args.size, recorded
    kind = "with a claim and an inline source each" if args.claims else "without claims"
    print(
        f"{backend} via {mode}, {kind}: {recorded} violations in {args.batches} batches of {args.size} "
        f"in {elapsed:.2f}s = {recorded / elapsed:,.0f} violations/s"
    )
    # Throughput depends on what else the machine runs; CPU time per violation much less so.
    where = "server processes" if server is not None else "this process (client and app)"
    print(
        f"  CPU per violation: Python {cpu_py / recorded * 1e6:,.0f} us ({where}), "
        f"PostgreSQL backends {cpu_db / recorded * 1e6:,.0f} us"
        + ("" if database else " (not measured on SQLite)")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
