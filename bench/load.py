"""Load N violations with claims and sources into a fresh PostgreSQL database for the benchmarks.

    .venv/bin/python bench/load.py 100000                # -> ledger_bench_100000
    .venv/bin/python bench/load.py 1000000 --api 5000    # 5,000 of them through the batch API

What it does, in order:
  1. drops and creates the database `ledger_bench_<N>` (only databases of that name, its own),
     `alembic upgrade head`, `flask --app service seed`, a reporter and a reader key
     (`flask --app service keys create`);
  2. the bulk, rows 0 .. N-API-1, through a direct path: COPY into the same tables with the same
     shapes as the API writes (violation, affected parties, first status change, one claim
     citing one source of its own, every 4th violation with a counterclaim of the accused and
     the status turned `disputed`, the search document, and the hash-chained audit entries,
     continuing the chain from its head so that /v1/audit/verify stays ok);
  3. the last rows (default 5,000; 500 below 20,000 rows; BENCH_API_ROWS) through
     `POST /v1/violations/batch`, 500 items a batch from 2 clients, each item a violation with one
     claim and one inline source: that part is timed and reported as violations/s; then a shape
     check (GET of a bulk row and of an API row answer the same fields and types);
  4. VACUUM (ANALYZE), as autovacuum would have done on a live database (also between 2 and 3,
     so that the batches are not timed while autovacuum works through the bulk).

The data model of the rows: 200 violations a day, ending yesterday, so N rows span N/200 days; a
"recent" filter (the last 30 days) matches the same ~6,000 rows at any N, and created_at follows
occurred_at (a ledger is recorded in time order). Attributed parties cycle over six seeded
belligerents (every 13th violation has no known perpetrator).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import harness
from harness import RESULTS, libpq

from service.models import Base, Claim, Source, Violation

REPORTER_ORG = "bench-monitors"
READER_ORG = "bench-readers"
ATTRIBUTED = ["syrian-government", "russia", "hts", "jaysh-al-izza", "syrian-opposition", "turkey"]
AFFECTED = ["syrian-opposition", "jaysh-al-izza", "syrian-government", "hts", "turkey", "russia"]
MONITOR = "sohr"
MONITOR_NAME = "Syrian Observatory for Human Rights"
AGREEMENT = "sochi-2018"
CATEGORIES = ["shelling", "airstrike", "ground_assault", "drone_strike", "sniping", "other"]
# (name, admin1, admin2, lat, lon): some inside the Sochi zone, some outside it.
PLACES = [
    ("Halfaya", "Hama", "Muhardah", 35.2603, 36.6075),
    ("Kafr Nabl", "Idlib", "Maarrat al-Nu'man", 35.6133, 36.5603),
    ("Jisr al-Shughur", "Idlib", "Jisr al-Shughur", 35.8134, 36.3194),
    ("Ariha", "Idlib", "Ariha", 35.8133, 36.6097),
    ("Atarib", "Aleppo", "Jebel Saman", 36.1375, 36.8303),
    ("Saraqib", "Idlib", "Idlib", 35.8647, 36.8006),
    ("Latakia", "Latakia", "Latakia", 35.5317, 35.7901),
]
PER_DAY = 200
STEP = timedelta(seconds=86400 / PER_DAY)
RECENT_DAYS = 30
BATCH = 500


def db_name(n: int | str) -> str:
    return f"ledger_bench_{n}"


def db_url(n: int | str) -> str:
    return harness.db_url(db_name(n))


def range_end() -> datetime:
    """The last occurred_at: midnight UTC of yesterday (so every row is in the past)."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1)


@dataclass
class Dataset:
    """What a benchmark needs to know about a loaded database (kept as JSON in bench/results)."""

    n: int
    url: str
    end: str
    recent_from: str
    all_from: str
    reporter_key: str
    reader_key: str
    secret_key: str
    party: str = ATTRIBUTED[0]
    api_rows: int = 0
    api_seconds: float = 0.0
    api_batches: int = 0
    bulk_rows: int = 0
    bulk_seconds: float = 0.0
    total_seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    sample_ids: list[str] = field(default_factory=list)

    @property
    def api_rate(self) -> float:
        return self.api_rows / self.api_seconds if self.api_seconds else 0.0

    def save(self) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{db_name(self.n)}.json"
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def saved(cls, n: int) -> Dataset | None:
        path = RESULTS / f"{db_name(n)}.json"
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))


# --- the violations, as the API takes them --------------------------------------------------


def occurred(i: int, n: int, end: datetime) -> datetime:
    return end - STEP * (n - 1 - i)


def attributed(i: int) -> str | None:
    return None if i % 13 == 12 else ATTRIBUTED[i % len(ATTRIBUTED)]


def spec(i: int, n: int, end: datetime) -> dict[str, Any]:
    """Violation number i as a POST /v1/violations body: one claim with one inline source."""
    name, admin1, admin2, lat, lon = PLACES[i % len(PLACES)]
    category = CATEGORIES[i % len(CATEGORIES)]
    at = occurred(i, n, end)
    party = attributed(i)
    killed = i % 9
    body: dict[str, Any] = {
        "title": f"{category.replace('_', ' ').capitalize()} near {name} #{i}",
        "description": f"Monitors report {category.replace('_', ' ')} near {name}, {admin1}; "
        f"bench record {i}.",
        "category": category,
        "occurred_at": at.isoformat(),
        "date_precision": "day" if i % 3 == 0 else "exact",
        "location": {
            "name": name,
            "admin1": admin1,
            "admin2": admin2,
            "country": "SY",
            "lat": lat,
            "lon": lon,
            "precision": "near",
        },
        "agreement": AGREEMENT,
        "provisions": ["dmz-15km"],
        "affected_parties": [AFFECTED[i % len(AFFECTED)]]
        + ([AFFECTED[(i + 2) % len(AFFECTED)]] if i % 2 else []),
        "casualties": {
            "killed": {"low": killed, "best": killed + 1, "high": killed + 3},
            "injured": {"best": i % 5},
        },
        "tags": ["bench", admin1.lower()],
    }
    if i % 3 == 0:
        body["occurred_until"] = (at + timedelta(hours=12)).isoformat()
    if party:
        body["attributed_party"] = party
    asserts: dict[str, Any] = {"killed": killed + 1}
    if party:
        asserts["attributed_party"] = party
    day = at.date().isoformat()
    body["claims"] = [
        {
            "claimant": MONITOR,
            "stance": "alleges",
            "statement": f"{category.replace('_', ' ').capitalize()} near {name} on {day}; "
            f"{killed + 1} killed according to our network.",
            "language": "en",
            "made_at": (at + timedelta(hours=3)).isoformat(),
            "asserts": asserts,
            "credibility": 2,
            "sources": [
                {
                    "source": {
                        "kind": "ngo_report",
                        "title": f"Daily report, {day}",
                        "publisher": MONITOR_NAME,
                        "published_at": (at + timedelta(hours=3)).isoformat(),
                        "language": "en",
                        "reliability": "B",
                    },
                    "excerpt": f"{killed + 1} killed near {name}",
                    "locator": f"item {i % 40 + 1}",
                }
            ],
        }
    ]
    return body


# --- setup ----------------------------------------------------------------------------------


def prepare_schema(n: int, secret: str) -> tuple[str, str]:
    """Migrate, seed, and make the keys; returns (reporter key, reader key)."""
    env = harness.service_env(db_url(n), secret)
    harness.cli(env, "alembic", "upgrade", "head")
    harness.cli(env, "flask", "seed")
    return harness.make_key(env, REPORTER_ORG, "reporter"), harness.make_key(
        env, READER_ORG, "reader"
    )


MAX_BODY = str(8 * 1024 * 1024)
WORKERS = os.environ.get("WEB_CONCURRENCY", "2")


def serve(url: str, secret: str, name: str, logdir: Path, app: str = "service.wsgi:app"):
    """Our service (or the ceiling, bench/ceiling_app.py) behind the project's gunicorn
    settings, as every benchmark measures it."""
    env = harness.service_env(url, secret, MAX_BODY_BYTES=MAX_BODY, WEB_CONCURRENCY=WORKERS)
    env.pop("GUNICORN_THREADS", None)
    env["LOG_LEVEL"] = os.environ.get("BENCH_LOG_LEVEL", "INFO")  # as deployed: a JSON line each
    return harness.gunicorn(name, env, logdir, app=app).start()


# --- the direct path --------------------------------------------------------------------------


class Chain:
    """The audit chain, continued from its head as the service's writers do: each entry's
    changes are sealed and encoded once (service.core.audit.Changes), hashed by audit.hash_of
    around that text, and stored as it, with the sealed values beside it. test_chain() checks
    the hashes against audit.entry_hash.
    """

    SEALED_COLS = ["commitment", "salt", "value", "source_id", "entity", "entity_id"]

    def __init__(self, seq: int, head: str, actor_org: str, actor_key: str) -> None:
        self.seq, self.hash = seq, head
        self.actor_org, self.actor_key = actor_org, actor_key
        self.rows: list[tuple] = []
        self.sealed: list[tuple] = []

    def record(self, at, action, entity, entity_id, changes, violation_id=None) -> None:
        from service.core.audit import Changes, hash_of

        seq = self.seq + 1
        value = Changes.of(changes, entity, entity_id)
        self.sealed.extend(tuple(v[c] for c in self.SEALED_COLS) for v in value.sealed)
        digest = hash_of(
            {
                "seq": seq,
                "at": at,
                "actor_org": self.actor_org,
                "actor_key": self.actor_key,
                "action": action,
                "entity": entity,
                "entity_id": entity_id,
                "violation_id": violation_id,
                "changes": value,
                "prev_hash": self.hash,
            }
        )
        self.rows.append(
            (
                seq,
                at,
                self.actor_org,
                self.actor_key,
                action,
                entity,
                entity_id,
                violation_id,
                value.text,
                self.hash,
                digest,
            )
        )
        self.seq, self.hash = seq, digest


def test_chain() -> None:
    """The chain's hashes equal service.core.audit.entry_hash of the same entries."""
    from service.core.audit import entry_hash

    chain = Chain(41, "f" * 64, "org-ü", "key-1")
    at = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    prev = chain.hash
    chain.record(at, "create", "claim", "c-1", {"b": [1, 2.5, None], "a": 'Ünïcode "q"'}, "v-1")
    chain.record(at, "create", "source", "s-1", {"fields": {"x": True}})
    for row in chain.rows:
        entry = SimpleNamespace(
            seq=row[0],
            at=row[1],
            actor_org=row[2],
            actor_key=row[3],
            action=row[4],
            entity=row[5],
            entity_id=row[6],
            violation_id=row[7],
            changes=json.loads(row[8]),
            prev_hash=prev,
        )
        assert row[9] == prev and entry_hash(entry) == row[10], row
        prev = row[10]


# Every column of each table, in the order COPY is given them.
VIOLATION_COLS = [c.name for c in Violation.__table__.columns]
TABLES = {
    "sources": [c.name for c in Source.__table__.columns],
    "violations": VIOLATION_COLS,
    "violation_affected_parties": ["violation_id", "party_id", "position"],
    "status_changes": [
        "violation_id",
        "from_status",
        "to_status",
        "by_org",
        "at",
        "reason",
        "verdict",
    ],
    "claims": [c.name for c in Claim.__table__.columns],
    "claim_sources": ["claim_id", "position", "source_id", "excerpt", "locator"],
    "violation_search": ["violation_id", "document"],
    "audit_log": [
        "seq",
        "at",
        "actor_org",
        "actor_key",
        "action",
        "entity",
        "entity_id",
        "violation_id",
        "changes",
        "prev_hash",
        "hash",
    ],
    "sealed_values": Chain.SEALED_COLS,
}


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _add(out: dict[str, list], table: str, **values: Any) -> None:
    """A row of `table` in COPY's column order; columns not given are NULL."""
    cols = TABLES[table]
    assert values.keys() <= set(cols), set(values) - set(cols)
    out[table].append(tuple(values.get(c) for c in cols))


def bulk_rows(i: int, n: int, end: datetime, chain: Chain, zone, out: dict[str, list]) -> None:
    """The rows POST /v1/violations/batch writes for spec(i) (and every 4th a counterclaim)."""
    from service.core.record import flatten
    from service.core.search import search_document

    data = spec(i, n, end)
    claim_data = data["claims"][0]
    link = claim_data["sources"][0]
    at = _dt(data["occurred_at"])
    created = at + timedelta(hours=6)
    vid, sid, cid = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    values = flatten({**data, "occurred_at": at, "occurred_until": _dt(data.get("occurred_until"))})
    party = values.get("attributed_party_id")
    counter = i % 4 == 0 and party is not None
    ccid = str(uuid.uuid4()) if counter else None
    updated = created + timedelta(hours=1) if counter else created
    made = dict(created_by_org=REPORTER_ORG, created_at=created, updated_at=created, version=1)
    values.update(
        id=vid,
        provisions=json.dumps(values.get("provisions", [])),
        tags=json.dumps(values.get("tags", [])),
        status="disputed" if counter else "reported",
        in_agreement_zone=zone(values["lat"], values["lon"]),
        claim_count=2 if counter else 1,
        reported_by=REPORTER_ORG,
        created_at=created,
        updated_at=updated,
        version=2 if counter else 1,
    )
    _add(out, "violations", **values)
    for pos, pid in enumerate(data["affected_parties"]):
        _add(out, "violation_affected_parties", violation_id=vid, party_id=pid, position=pos)
    _add(
        out,
        "status_changes",
        violation_id=vid,
        to_status="reported",
        by_org=REPORTER_ORG,
        at=created,
        reason="recorded",
    )
    summary = {k: v for k, v in data.items() if k != "claims"}
    chain.record(created, "create", "violation", vid, {"fields": summary}, vid)

    src = link["source"]
    _add(
        out,
        "sources",
        **{**src, **made, "published_at": _dt(src["published_at"])},
        id=sid,
        confidential=False,
        editions="[]",
    )
    chain.record(created, "create", "source", sid, {"fields": src})
    claim = {
        "claimant": MONITOR,
        "stance": "alleges",
        "responds_to": None,
        "statement": claim_data["statement"],
        "language": "en",
        "translations": [],
        "made_at": claim_data["made_at"],
        "asserts": claim_data["asserts"],
        "credibility": 2,
        "sources": [{"source_id": sid, "excerpt": link["excerpt"], "locator": link["locator"]}],
    }
    _add(
        out,
        "claims",
        **made,
        id=cid,
        seq=1,
        violation_id=vid,
        claimant_id=MONITOR,
        stance="alleges",
        statement=claim["statement"],
        language="en",
        translations="[]",
        made_at=_dt(claim["made_at"]),
        asserts=json.dumps(claim["asserts"]),
        credibility=2,
    )
    _add(
        out,
        "claim_sources",
        claim_id=cid,
        position=0,
        source_id=sid,
        excerpt=link["excerpt"],
        locator=link["locator"],
    )
    chain.record(created, "create", "claim", cid, claim, vid)
    statements = [claim["statement"]]
    if counter:
        text = f"Our forces did not fire near {values['location_name']}; the report is false."
        denial = {
            **claim,
            "claimant": party,
            "stance": "denies",
            "responds_to": cid,
            "statement": text,
            "made_at": updated.isoformat(),
            "asserts": {"killed": 0},
            "credibility": None,
            "sources": [],
        }
        _add(
            out,
            "claims",
            **{**made, "created_at": updated, "updated_at": updated},
            id=ccid,
            seq=2,
            violation_id=vid,
            claimant_id=party,
            stance="denies",
            responds_to_id=cid,
            statement=text,
            language="en",
            translations="[]",
            made_at=updated,
            asserts='{"killed": 0}',
        )
        chain.record(updated, "create", "claim", ccid, denial, vid)
        _add(
            out,
            "status_changes",
            violation_id=vid,
            from_status="reported",
            to_status="disputed",
            by_org=REPORTER_ORG,
            at=updated,
            reason=f"{party} denies (claim {ccid})",
        )
        statements.append(text)
    doc = search_document(data["title"], data["description"], statements)
    _add(out, "violation_search", violation_id=vid, document=doc)


def copy_rows(cur, rows: dict[str, list[tuple]]) -> None:
    """COPY each table's rows (in the column order of TABLES) on the cursor's connection."""
    for table, table_rows in rows.items():
        with cur.copy(f"COPY {table} ({', '.join(TABLES[table])}) FROM STDIN") as copy:
            for row in table_rows:
                copy.write_row(row)


def bulk_load(n: int, count: int, end: datetime, url: str, chunk: int = 20_000) -> float:
    """COPY violations 0 .. count-1 (of n) with everything the API would have written."""
    import psycopg

    from service.core.zones import zone_membership

    test_chain()
    began = time.perf_counter()
    with psycopg.connect(libpq(url)) as conn:
        agreement = conn.execute(
            "SELECT id, version, zone FROM agreements WHERE id = %s", (AGREEMENT,)
        ).fetchone()
        agreement = SimpleNamespace(id=agreement[0], version=agreement[1], zone=agreement[2])
        zones: dict[tuple[float, float], bool | None] = {}

        def zone(lat, lon):
            key = (lat, lon)
            if key not in zones:
                zones[key] = zone_membership(agreement, lat, lon)
            return zones[key]

        key_id = conn.execute(
            "SELECT id FROM api_keys WHERE org_id = %s AND role = 'reporter'", (REPORTER_ORG,)
        ).fetchone()[0]
        seq, head = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        conn.commit()

        # A thread makes chunk k+1 while chunk k is copied: the server's side of COPY (rows,
        # indexes) then overlaps with the Python that builds the rows. The chain runs on across
        # chunks in the producer; each chunk's transaction checks the head it continues from.
        chunks: queue.Queue = queue.Queue(maxsize=1)

        def produce() -> None:
            chain = Chain(seq, head, REPORTER_ORG, key_id)
            try:
                for start in range(0, count, chunk):
                    prev = (chain.seq, chain.hash)
                    chain.rows, chain.sealed = [], []
                    out: dict[str, list] = {name: [] for name in TABLES}
                    for i in range(start, min(start + chunk, count)):
                        bulk_rows(i, n, end, chain, zone, out)
                    out["audit_log"] = chain.rows
                    out["sealed_values"] = chain.sealed
                    chunks.put((min(start + chunk, count), prev, (chain.seq, chain.hash), out))
            except BaseException as exc:  # noqa: BLE001 (handed to the consumer)
                chunks.put(exc)
                return
            chunks.put(None)

        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        while (item := chunks.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            done, prev, last, out = item
            with conn.transaction(), conn.cursor() as cur:
                now = cur.execute(
                    "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
                ).fetchone()
                if tuple(now) != prev:
                    raise RuntimeError("the audit chain moved during the bulk load")
                copy_rows(cur, out)
                cur.execute("UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1", last)
            rate = done / (time.perf_counter() - began)
            print(f"    bulk: {done:,}/{count:,} violations ({rate:,.0f}/s)", flush=True)
        producer.join()
    return time.perf_counter() - began


# --- the API path -----------------------------------------------------------------------------


def post_batch(base: str, body: bytes, key: str) -> tuple[int, Any]:
    import requests

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    resp = requests.post(f"{base}/v1/violations/batch", data=body, headers=headers, timeout=300)
    return resp.status_code, resp.json() if resp.status_code == 200 else resp.text[:500]


def api_load(base: str, key: str, n: int, first: int, end: datetime, clients: int = 2):
    """POST violations first .. n-1 in batches of 500 from `clients` threads; returns
    (recorded, seconds, batches, ids)."""
    bodies = [
        json.dumps({"items": [spec(i, n, end) for i in range(s, min(s + BATCH, n))]}).encode()
        for s in range(first, n, BATCH)
    ]
    ids: list[str] = []
    lock = threading.Lock()

    def send(body: bytes) -> int:
        status, answer = post_batch(base, body, key)
        if status != 200:
            raise RuntimeError(f"batch answered {status}: {answer!r}")
        bad = [r for r in answer["results"] if r["status"] != 201]
        if bad:
            raise RuntimeError(f"{len(bad)} items refused, e.g. {bad[0]}")
        with lock:
            ids.extend(r["id"] for r in answer["results"])
        return len(answer["results"])

    # Warm-up, not timed: each worker's first batch pays for lazy imports and first-use caches
    # (about half the time of two cold batches). Every item names a party that does not exist,
    # so each is refused after loading and checking and nothing is written.
    refused = [
        {**spec(i, n, end), "attributed_party": "bench-warm-up-unknown"}
        for i in range(first, min(first + BATCH, n))
    ]
    warm = json.dumps({"items": refused}).encode()

    def warm_up(_client: int) -> None:
        status, answer = post_batch(base, warm, key)
        if status != 200 or {r["status"] for r in answer["results"]} != {422}:
            raise RuntimeError(f"warm-up batch answered {status}: {str(answer)[:500]}")

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(warm_up, range(clients)))
    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        recorded = sum(pool.map(send, bodies))
    return recorded, time.perf_counter() - began, len(bodies), ids


def _shape(value: Any) -> Any:
    """The structure of a JSON value: keys of objects, the shape of a list's first item."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def shape_check(base: str, key: str, url: str, api_ids: list[str]) -> str:
    """GET a violation loaded through the API and a bulk one of the same kind (one claim, a
    perpetrator, a time range): the same fields and types, claims and sources included."""
    import psycopg

    kind = (
        "SELECT id FROM violations WHERE claim_count = 1 AND reported_by = %s AND "
        "attributed_party_id IS NOT NULL AND occurred_until IS NOT NULL AND"
    )
    with psycopg.connect(libpq(url)) as conn:
        found = [
            conn.execute(f"{kind} {where} LIMIT 1", (REPORTER_ORG, api_ids)).fetchone()[0]
            for where in ("id = ANY(%s)", "NOT id = ANY(%s) ORDER BY created_at")
        ]
    shapes = []
    for vid in found:
        status, body = harness.get(
            f"{base}/v1/violations/{vid}", {"Authorization": f"Bearer {key}"}
        )
        if status != 200:
            return f"shape check: GET {vid} answered {status}"
        shapes.append(_shape(json.loads(body)))
    if shapes[0] == shapes[1]:
        return "shape check: a bulk row and an API row answer GET with the same fields and types"
    return f"shape check: DIFFERENT shapes: API {shapes[0]} vs bulk {shapes[1]}"


# --- the whole load ---------------------------------------------------------------------------


def sql(url: str, statement: str, args: tuple = (), autocommit: bool = False) -> list[tuple]:
    """The rows of one statement (none for a statement that returns none)."""
    import psycopg

    with psycopg.connect(libpq(url), autocommit=autocommit) as conn:
        cur = conn.execute(statement, args)
        return cur.fetchall() if cur.description else []


COUNTED = "violations claims sources claim_sources status_changes audit_log violation_search"


def table_counts(url: str) -> dict[str, int]:
    return {t: sql(url, f"SELECT count(*) FROM {t}")[0][0] for t in COUNTED.split()}


def vacuum(url: str) -> None:
    sql(url, "VACUUM (ANALYZE)", autocommit=True)


def default_api_rows(n: int) -> int:
    """Rows through the batch API: BENCH_API_ROWS, else 5,000 (500 below 20,000 rows).

    Ten batches: enough that the rate measures throughput rather than the first request of
    each worker and the last commit (two batches of 500 measured 1,238/s where ten measure
    about 2,200/s). The bulk still goes by COPY, which is faster."""
    if os.environ.get("BENCH_API_ROWS"):
        return int(os.environ["BENCH_API_ROWS"]) // BATCH * BATCH
    return 5000 if n >= 20_000 else BATCH


def load(n: int, api_rows: int | None = None, logdir: Path = RESULTS) -> Dataset:
    """The whole load of `ledger_bench_<n>`; the API part's server logs go to `logdir`."""
    began = time.perf_counter()
    api_rows = default_api_rows(n) if api_rows is None else api_rows
    secret = uuid.uuid4().hex + uuid.uuid4().hex
    end = range_end()
    name = db_name(n)
    print(f"  [{name}] create, alembic upgrade head, seed, keys", flush=True)
    url = harness.create_database(name)
    reporter, reader = prepare_schema(n, secret)
    bulk = n - api_rows
    print(f"  [{name}] direct path (COPY): violations 0..{bulk - 1:,}", flush=True)
    bulk_seconds = bulk_load(n, bulk, end, url) if bulk else 0.0
    vacuum(url)
    data = Dataset(
        n=n,
        url=url,
        end=end.isoformat(),
        recent_from=(end - timedelta(days=RECENT_DAYS)).isoformat(),
        all_from=(occurred(0, n, end) - timedelta(days=1)).isoformat(),
        reporter_key=reporter,
        reader_key=reader,
        secret_key=secret,
        bulk_rows=bulk,
        bulk_seconds=bulk_seconds,
    )
    ids: list[str] = []
    if api_rows:
        print(
            f"  [{name}] batch API: violations {bulk:,}..{n - 1:,} in batches of {BATCH}",
            flush=True,
        )
        if bulk:
            # Else autovacuum works through the rows just copied while the batches are timed,
            # on the same cores: a live database of this size would have been vacuumed already.
            vacuum(url)
        server = serve(url, secret, "ledger-load", logdir)
        try:
            recorded, seconds, batches, ids = api_load(server.base, reporter, n, bulk, end)
            if bulk:
                print(f"  [{name}] {shape_check(server.base, reader, url, ids)}", flush=True)
        finally:
            server.stop()
        data.api_rows, data.api_seconds, data.api_batches = recorded, seconds, batches
        print(
            f"  [{name}] batch API: {recorded:,} violations in {seconds:.1f}s = "
            f"{data.api_rate:,.0f} violations/s",
            flush=True,
        )
        vacuum(url)
    # 50 violations loaded through the API and 50 bulk ones with a counterclaim.
    counterclaimed = sql(
        url,
        "SELECT id FROM violations WHERE claim_count = 2 AND reported_by = %s "
        "ORDER BY created_at DESC LIMIT 50",
        (REPORTER_ORG,),
    )
    data.sample_ids = ids[:: max(1, len(ids) // 50)][:50] + [r[0] for r in counterclaimed]
    data.counts = table_counts(url)
    data.total_seconds = time.perf_counter() - began
    data.save()
    return data


# --- SQLite copies ----------------------------------------------------------------------------


def copy_to_sqlite(url: str, path: Path, tables: tuple[str, ...]) -> None:
    """The rows of `tables` from PostgreSQL into the SQLite file's tables of the same name,
    converted as the app's SQLite types store them (UTC times as naive
    'YYYY-MM-DD HH:MM:SS.ffffff', JSON as text, dates as ISO text), in one transaction."""
    import psycopg
    from sqlalchemy import JSON, Date

    from service.models import UTCDateTime

    def convert(kind):
        if isinstance(kind, UTCDateTime):
            return lambda v: v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(kind, JSON):
            return json.dumps
        return (lambda v: v.isoformat()) if isinstance(kind, Date) else None

    with psycopg.connect(libpq(url)) as src, sqlite3.connect(path) as dst:
        for name in tables:
            cols = list(Base.metadata.tables[name].columns)
            converters = [(i, f) for i, c in enumerate(cols) if (f := convert(c.type))]
            names = ", ".join(c.name for c in cols)
            insert = f"INSERT INTO {name} ({names}) VALUES ({', '.join('?' * len(cols))})"
            with src.cursor(name=f"copy_{name}") as cur:
                cur.itersize = 5000
                cur.execute(f"SELECT {names} FROM {name}")
                while rows := cur.fetchmany(5000):
                    out = []
                    for row in map(list, rows):
                        for i, f in converters:
                            if row[i] is not None:
                                row[i] = f(row[i])
                        out.append(row)
                    dst.executemany(insert, out)
        dst.execute("ANALYZE")


def sqlite_violations(url: str, path: Path) -> float:
    """The violations table alone (same columns, same indexes) in a SQLite file, for Datasette."""
    from sqlalchemy import create_engine
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    began = time.perf_counter()
    path.unlink(missing_ok=True)
    table = Violation.__table__
    lite = create_engine(f"sqlite:///{path}")
    with lite.begin() as dst:
        # The DDL the app would emit on SQLite (its REFERENCES name tables the file does not
        # hold; SQLite does not enforce them unless asked), and every index of the table.
        dst.exec_driver_sql(str(CreateTable(table).compile(dialect=sqlite.dialect())))
        for index in table.indexes:
            dst.exec_driver_sql(str(CreateIndex(index).compile(dialect=sqlite.dialect())))
    lite.dispose()
    copy_to_sqlite(url, path, ("violations",))
    return time.perf_counter() - began


# Tables that GET /v1/violations reads (and what they need), in foreign-key order.
LEDGER_TABLES = (
    "organisations",
    "api_keys",
    "parties",
    "agreements",
    "violations",
    "violation_affected_parties",
)


def sqlite_ledger(url: str, path: Path, secret: str) -> float:
    """Our own schema on SQLite (`alembic upgrade head`) holding the PostgreSQL rows of the
    tables the list reads, so that the service itself can be measured on SQLite too."""
    began = time.perf_counter()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    harness.cli(harness.service_env(f"sqlite:///{path}", secret), "alembic", "upgrade", "head")
    copy_to_sqlite(url, path, LEDGER_TABLES)
    return time.perf_counter() - began


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, nargs="?", default=int(os.environ.get("N", "100000")))
    ap.add_argument("--api", type=int, default=None, help="rows through the batch API")
    args = ap.parse_args()
    data = load(args.n, args.api)
    print(json.dumps({k: v for k, v in asdict(data).items() if k != "sample_ids"}, indent=2))
    digest = hashlib.sha256(data.reader_key.encode()).hexdigest()[:8]
    print(f"reader key (sha256 {digest}…) and the rest: {RESULTS / (db_name(args.n) + '.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
