"""Full CSV export through a gunicorn worker: rows/s and the worker's peak memory, at two sizes.

    .venv/bin/python bench/export_bench.py postgresql+psycopg://postgres@127.0.0.1:5432/ledger_bench
    .venv/bin/python bench/export_bench.py --rows 1000000      # URL from DATABASE_URL

Loads violations straight into PostgreSQL with COPY until the database holds --rows/10 of them,
exports everything through one gunicorn worker (the project's gunicorn.conf.py), then tops up
to --rows and exports again with a fresh worker. Memory that does not grow with the row count
is the point: compare the two peaks. The database is migrated to head and never dropped; use a
database of its own (the export is of every violation in it).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import harness

ORG = "bench-export"
PARTIES = [f"bench-export-party-{n}" for n in range(8)]
AGREEMENT = "bench-export-agreement"
CATEGORIES = ["shelling", "airstrike", "ground_assault", "drone_strike", "sniping"]
PLACES = [
    ("Halfaya", "Hama", 35.2603, 36.6075),
    ("Kafr Nabudah", "Hama", 35.4386, 36.4953),
    ("Jisr al-Shughur", "Idlib", 35.8134, 36.3194),
    ("Ariha", "Idlib", 35.8133, 36.6097),
    ("Atarib", "Aleppo", 36.1375, 36.8303),
]


def ensure_fixtures(conn) -> None:
    now = datetime.now(UTC)
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO organisations (id, name, created_at) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            (ORG, "Export bench", now),
        )
        for pid in PARTIES:
            cur.execute(
                "INSERT INTO parties (id, name, kind, names, aliases, affiliations, search_text, "
                "created_by_org, created_at, updated_at, version) VALUES "
                "(%s, %s, 'armed_group', '{}', '[]', '[]', %s, %s, %s, %s, 1) "
                "ON CONFLICT DO NOTHING",
                (pid, pid, pid, ORG, now, now),
            )
        cur.execute(
            "INSERT INTO agreements (id, title, parties, provisions, zone_approximate, "
            "created_by_org, created_at, updated_at, version) VALUES (%s, 'Bench ceasefire', "
            "'[]', %s, false, %s, %s, %s, 1) ON CONFLICT DO NOTHING",
            (AGREEMENT, json.dumps([{"code": "dmz-15km", "text": "A 15 km zone."}]), ORG, now, now),
        )
    conn.commit()


def count(conn) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM violations")
        total = cur.fetchone()[0]
    conn.commit()  # no transaction left open while the worker exports
    return total


VIOLATION_COLUMNS = (
    "id, title, description, category, occurred_at, occurred_until, date_precision, "
    "location_name, admin1, admin2, country, lat, lon, location_precision, agreement_id, "
    "provisions, attributed_party_id, killed_low, killed_best, killed_high, injured_best, tags, "
    "status, in_agreement_zone, claim_count, external_ref, reported_by, created_at, updated_at, "
    "version"
)


def load(conn, start: int, n: int, chunk: int = 50_000) -> float:
    """COPY n violations (numbered from start), their affected parties and search documents."""
    began = time.perf_counter()
    base = datetime(2018, 9, 17, tzinfo=UTC)
    created0 = datetime.now(UTC)
    done = 0
    while done < n:
        m = min(chunk, n - done)
        violations, affected, search = io.StringIO(), io.StringIO(), io.StringIO()
        for j in range(m):
            i = start + done + j
            vid = str(uuid.uuid4())
            name, admin1, lat, lon = PLACES[i % len(PLACES)]
            occurred = base + timedelta(hours=i % 20000)
            until = (occurred + timedelta(hours=12)).isoformat() if i % 3 == 0 else r"\N"
            has_point = i % 10 != 0
            title = f"{CATEGORIES[i % 5].replace('_', ' ').title()} near {name} #{i}"
            description = f"Bench violation {i}, reported by monitors; details withheld."
            killed = i % 7
            created = (created0 + timedelta(microseconds=i)).isoformat()
            fields = [
                vid,
                title,
                description,
                CATEGORIES[i % 5],
                occurred.isoformat(),
                until,
                "day",
                name,
                admin1,
                r"\N",
                "SY",
                str(lat) if has_point else r"\N",
                str(lon) if has_point else r"\N",
                "exact" if has_point else r"\N",
                AGREEMENT,
                '["dmz-15km"]',
                PARTIES[i % len(PARTIES)],
                str(killed),
                str(killed * 2),
                str(killed * 3),
                str(i % 5),
                '["bench"]',
                "reported",
                "true" if has_point else r"\N",
                "0",
                f"bench-export-{i}",
                ORG,
                created,
                created,
                "1",
            ]
            violations.write("\t".join(fields) + "\n")
            affected.write(f"{vid}\t{PARTIES[(i + 1) % len(PARTIES)]}\t0\n")
            if i % 2:
                affected.write(f"{vid}\t{PARTIES[(i + 2) % len(PARTIES)]}\t1\n")
            search.write(f"{vid}\t{title.lower()} {description.lower()}\n")
        with conn.cursor() as cur:
            for table, columns, data in (
                ("violations", VIOLATION_COLUMNS, violations),
                ("violation_affected_parties", "violation_id, party_id, position", affected),
                ("violation_search", "violation_id, document", search),
            ):
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    copy.write(data.getvalue())
        conn.commit()
        done += m
    with conn.cursor() as cur:
        cur.execute("ANALYZE violations")
        cur.execute("ANALYZE violation_affected_parties")
    conn.commit()
    return time.perf_counter() - began


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def export_once(url: str, key: str, fmt: str) -> dict:
    env = dict(
        os.environ, DATABASE_URL=url, RATE_LIMIT="0", LOG_LEVEL="WARNING", WEB_CONCURRENCY="1"
    )
    env.pop("GUNICORN_THREADS", None)
    server = harness.gunicorn("ledger-export", env, harness.RESULTS, workers_wanted=1).start()
    base = server.base
    try:
        worker = server.workers()[0]
        # One small request first, so the worker has imported and connected before we measure.
        req = urllib.request.Request(
            base + "/v1/violations?limit=1", headers={"Authorization": f"Bearer {key}"}
        )
        with urllib.request.urlopen(req) as resp:
            resp.read()
        before = rss_kib(worker, "VmRSS")
        peak = [before]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                try:
                    peak[0] = max(peak[0], rss_kib(worker, "VmRSS"))
                except OSError:
                    return
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        req = urllib.request.Request(
            base + f"/v1/violations/export?format={fmt}",
            headers={"Authorization": f"Bearer {key}"},
        )
        lines = size = 0
        started = time.perf_counter()
        with urllib.request.urlopen(req, timeout=600) as resp:
            while chunk := resp.read(1 << 20):
                lines += chunk.count(b"\n")
                size += len(chunk)
        elapsed = time.perf_counter() - started
        stop.set()
        sampler.join()
        hwm = rss_kib(worker, "VmHWM")
        alive = server.proc.poll() is None and Path(f"/proc/{worker}").exists()
    finally:
        server.stop()
    # Lines that are not violations: CSV's header, HXL's two, GeoJSON's opening and closing.
    header_lines = {"csv": 1, "hxl": 2, "ndjson": 0, "geojson": 2}[fmt]
    return {
        "rows": lines - header_lines,
        "seconds": elapsed,
        "bytes": size,
        "rss_before_mib": before / 1024,
        "rss_peak_mib": peak[0] / 1024,
        "hwm_mib": hwm / 1024,
        "worker_survived": alive,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url", nargs="?", default=os.environ.get("DATABASE_URL"))
    ap.add_argument("--rows", type=int, default=100_000, help="the larger size (default 100000)")
    ap.add_argument("--format", default="csv", choices=["csv", "hxl", "ndjson", "geojson"])
    args = ap.parse_args()
    if not args.url or not args.url.startswith("postgresql"):
        ap.error("give a PostgreSQL URL (argument or DATABASE_URL)")

    import psycopg

    env = harness.service_env(args.url, "bench-export")
    harness.cli(env, "alembic", "upgrade", "head")
    key = harness.make_key(env, ORG, "reader")
    results = []
    with psycopg.connect(harness.libpq(args.url)) as conn:
        ensure_fixtures(conn)
        for size in (args.rows // 10, args.rows):
            have = count(conn)
            if have < size:
                took = load(conn, have, size - have)
                print(f"loaded {size - have:,} violations in {took:.1f}s", flush=True)
            total = count(conn)
            result = export_once(args.url, key, args.format)
            assert result["rows"] == total, (result["rows"], total)
            results.append(result)
            print(
                f"{args.format} export of {result['rows']:>9,} violations: "
                f"{result['seconds']:7.2f}s = {result['rows'] / result['seconds']:>9,.0f} rows/s, "
                f"{result['bytes'] / result['seconds'] / 1e6:6.1f} MB/s; worker RSS "
                f"{result['rss_before_mib']:.1f} MiB before, {result['rss_peak_mib']:.1f} MiB "
                f"peak during (VmHWM {result['hwm_mib']:.1f} MiB)",
                flush=True,
            )
    small, large = results
    growth = large["rss_peak_mib"] - small["rss_peak_mib"]
    print(f"peak RSS at {large['rows']:,} rows minus at {small['rows']:,} rows: {growth:+.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
