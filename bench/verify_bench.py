"""GET /v1/audit/verify on a long chain: a full check, an incremental one, and what it costs
everybody else while verifications are asked for in parallel.

    .venv/bin/python bench/verify_bench.py                 # 1,000,000 entries (make bench)
    .venv/bin/python bench/verify_bench.py --entries 100000

It makes the database ledger_bench_verify (only that name is dropped and made), migrates it,
writes the chain with the service's own Changes/hash_of (bench/load.Chain: every 10th entry a
claim citing a source with a locator, so the sealed values are checked too) by COPY, and serves
it with gunicorn (2 workers) on loopback. Then:
  1. the first check (a verifier; no checkpoint yet, so the whole chain): seconds, entries/s;
  2. full=1 (an admin), which re-hashes everything whatever the checkpoints;
  3. 1,000 more entries, and the next incremental check: it re-hashes those only;
  4. 8 clients asking for a full verification at once for 20 s, while another times
     GET /v1/parties (median and worst) against the same figure measured just before, idle.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta

import harness
import load


def fill(url: str, count: int, start_at: datetime) -> None:
    """Append `count` entries after the chain's head, by COPY, as the service would chain them."""
    import psycopg

    with psycopg.connect(harness.libpq(url)) as conn:
        seq, head = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        chain = load.Chain(seq, head, "bench-monitors", None)
        for i in range(count):
            at = start_at + timedelta(microseconds=i)
            n = seq + i
            if i % 10 == 0:
                sid = f"source-{n}"
                changes = {
                    "claimant": "sohr",
                    "stance": "alleges",
                    "statement": f"Shelling reported, entry {n}.",
                    "sources": [{"source_id": sid, "excerpt": None, "locator": f"item {n}"}],
                }
                chain.record(at, "create", "claim", f"claim-{n}", changes, f"violation-{n}")
            else:
                changes = {"title": {"from": f"Shelling #{n}", "to": f"Shelling of Halfaya #{n}"}}
                chain.record(at, "update", "violation", f"violation-{n}", changes, f"v-{n}")
            if len(chain.rows) >= 50_000 or i == count - 1:
                with conn.transaction(), conn.cursor() as cur:
                    load.copy_rows(cur, {"audit_log": chain.rows, "sealed_values": chain.sealed})
                    cur.execute(
                        "UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1",
                        (chain.seq, chain.hash),
                    )
                chain.rows, chain.sealed = [], []


def call(base: str, path: str, key: str, timeout: float = 3600) -> tuple[int, dict, float]:
    began = time.perf_counter()
    status, body = harness.get(base + path, {"Authorization": f"Bearer {key}"}, timeout)
    return status, json.loads(body or b"{}"), time.perf_counter() - began


def latencies(base: str, key: str, seconds: float) -> list[float]:
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        status, _body, took = call(base, "/v1/parties?limit=50", key, timeout=120)
        if status == 200:
            out.append(took)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=int(os.environ.get("VERIFY_ENTRIES", 10**6)))
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()

    url = harness.create_database(load.db_name("verify"))
    secret = "bench-verify-secret"
    env = harness.service_env(url, secret)
    harness.cli(env, "alembic", "upgrade", "head")
    keys = {
        role: harness.make_key(env, f"bench-{role}", role)
        for role in ("admin", "verifier", "reader")
    }
    began = time.perf_counter()
    fill(url, args.entries, datetime(2026, 1, 1, tzinfo=UTC))
    print(f"chain of {args.entries:,} entries written in {time.perf_counter() - began:.1f} s")

    server = load.serve(url, secret, "ledger-verify", harness.RESULTS)
    rows = []
    try:
        status, body, took = call(server.base, "/v1/audit/verify", keys["verifier"])
        assert status == 200 and body["ok"], body
        rows.append(("first check (verifier, no checkpoint)", body["entries"], took))
        status, body, took = call(server.base, "/v1/audit/verify?full=1", keys["admin"])
        assert status == 200 and body["ok"], body
        rows.append(("full=1 (admin)", body["entries"], took))
        fill(url, 1000, datetime(2026, 6, 1, tzinfo=UTC))
        status, body, took = call(server.base, "/v1/audit/verify", keys["verifier"])
        assert status == 200 and body["ok"] and body["entries"] == 1000, body
        rows.append(("incremental after 1,000 more", body["entries"], took))

        idle = latencies(server.base, keys["reader"], 5)
        statuses: list[int] = []
        stop = time.monotonic() + args.seconds

        def ask() -> None:
            while time.monotonic() < stop:
                code, _b, _t = call(server.base, "/v1/audit/verify?full=1", keys["admin"])
                statuses.append(code)
                if code == 429:
                    time.sleep(1)

        threads = [threading.Thread(target=ask) for _ in range(args.parallel)]
        for thread in threads:
            thread.start()
        busy = latencies(server.base, keys["reader"], args.seconds)
        for thread in threads:
            thread.join()
    finally:
        server.stop()

    print(f"\nGET /v1/audit/verify, {args.entries:,} entries on PostgreSQL (2 gunicorn workers)")
    cells = [
        [name, f"{n:,}", f"{took:.2f}", f"{n / took if took else 0:,.0f}"] for name, n, took in rows
    ]
    print("\n".join(harness.table(["check", "entries", "seconds", "entries/s"], cells, {1, 2, 3})))
    print(
        f"\n{args.parallel} clients asking full=1 for {args.seconds:.0f} s: "
        f"{statuses.count(200)} answered 200, {statuses.count(429)} answered 429"
    )
    for name, sample in (("idle", idle), ("during", busy)):
        print(
            f"GET /v1/parties {name:7}: {len(sample)} requests, median "
            f"{statistics.median(sample) * 1000:.1f} ms, worst {max(sample) * 1000:.1f} ms"
        )
    ratio = statistics.median(busy) / statistics.median(idle)
    print(f"median during / idle: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
