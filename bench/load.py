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
import http.client
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.models import Claim, Source, Violation  # noqa: E402 (after the path is set)

RESULTS = ROOT / "bench" / "results"
VENV_BIN = ROOT / ".venv" / "bin"
ADMIN_URL = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_BASE = os.environ.get("BENCH_PG_BASE", "postgresql+psycopg://postgres@127.0.0.1:5432")

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


def db_name(n: int) -> str:
    return f"ledger_bench_{n}"


def db_url(n: int) -> str:
    return f"{PG_BASE}/{db_name(n)}"


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


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


def run(cmd: list[str], env: dict[str, str]) -> str:
    out = subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return out.stdout


def service_env(url: str, secret: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        SECRET_KEY=secret,
        RATE_LIMIT="0",
        LOG_LEVEL="WARNING",
        FLASK_APP="service",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def create_database(n: int) -> None:
    import psycopg

    name = db_name(n)
    assert name.startswith("ledger_bench_")
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def prepare_schema(n: int, secret: str) -> tuple[str, str]:
    """Migrate, seed, and make the keys; returns (reporter key, reader key)."""
    env = service_env(db_url(n), secret)
    run([str(VENV_BIN / "alembic"), "upgrade", "head"], env)
    run([str(VENV_BIN / "flask"), "--app", "service", "seed"], env)
    keys = []
    for org, role in ((REPORTER_ORG, "reporter"), (READER_ORG, "reader")):
        out = run(
            [
                str(VENV_BIN / "flask"),
                "--app",
                "service",
                "keys",
                "create",
                "--org",
                org,
                "--role",
                role,
            ],
            env,
        )
        keys.append(out.strip().splitlines()[-1])
    return keys[0], keys[1]


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
SOURCE_COLS = [c.name for c in Source.__table__.columns]
CLAIM_COLS = [c.name for c in Claim.__table__.columns]
TABLES = {
    "sources": SOURCE_COLS,
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
    "claims": CLAIM_COLS,
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


def bulk_rows(i: int, n: int, end: datetime, chain: Chain, zone, out: dict[str, list]) -> None:
    """The rows POST /v1/violations/batch writes for spec(i) (and every 4th a counterclaim)."""
    from service.core.query import search_document
    from service.core.record import flatten

    data = spec(i, n, end)
    claim_data = data["claims"][0]
    link = claim_data["sources"][0]
    at = _dt(data["occurred_at"])
    created = at + timedelta(hours=6)
    vid, sid, cid = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    values = flatten({**data, "occurred_at": at, "occurred_until": _dt(data.get("occurred_until"))})
    party = values.get("attributed_party_id")
    lat, lon = values["lat"], values["lon"]
    counter = i % 4 == 0 and party is not None
    ccid = str(uuid.uuid4()) if counter else None
    updated = created + timedelta(hours=1) if counter else created
    row = dict.fromkeys(VIOLATION_COLS)
    row.update(values)
    row.update(
        id=vid,
        provisions=json.dumps(values.get("provisions", [])),
        tags=json.dumps(values.get("tags", [])),
        status="disputed" if counter else "reported",
        in_agreement_zone=zone(lat, lon),
        claim_count=2 if counter else 1,
        reported_by=REPORTER_ORG,
        created_at=created,
        updated_at=updated,
        version=2 if counter else 1,
    )
    out["violations"].append(tuple(row[c] for c in VIOLATION_COLS))
    for pos, pid in enumerate(data["affected_parties"]):
        out["violation_affected_parties"].append((vid, pid, pos))
    out["status_changes"].append((vid, None, "reported", REPORTER_ORG, created, "recorded", None))
    summary = {k: v for k, v in data.items() if k != "claims"}
    chain.record(created, "create", "violation", vid, {"fields": summary}, vid)

    src = link["source"]
    out["sources"].append(
        (
            sid,
            src["kind"],
            src["title"],
            src["publisher"],
            None,
            None,
            _dt(src["published_at"]),
            None,
            None,
            None,
            src["language"],
            src["reliability"],
            False,
            "[]",
            None,
            REPORTER_ORG,
            created,
            created,
            1,
            None,
            None,
            None,
        )
    )
    chain.record(created, "create", "source", sid, {"fields": src})
    made = _dt(claim_data["made_at"])
    out["claims"].append(
        (
            cid,
            1,
            vid,
            MONITOR,
            "alleges",
            None,
            claim_data["statement"],
            "en",
            "[]",
            made,
            json.dumps(claim_data["asserts"]),
            2,
            None,
            None,
            None,
            REPORTER_ORG,
            created,
            created,
            1,
        )
    )
    out["claim_sources"].append((cid, 0, sid, link["excerpt"], link["locator"]))
    claim_summary = {
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
    chain.record(created, "create", "claim", cid, claim_summary, vid)
    statements = [claim_data["statement"]]
    if counter:
        text = f"Our forces did not fire near {values['location_name']}; the report is false."
        out["claims"].append(
            (
                ccid,
                2,
                vid,
                party,
                "denies",
                cid,
                text,
                "en",
                "[]",
                updated,
                '{"killed": 0}',
                None,
                None,
                None,
                None,
                REPORTER_ORG,
                updated,
                updated,
                1,
            )
        )
        chain.record(
            updated,
            "create",
            "claim",
            ccid,
            {
                "claimant": party,
                "stance": "denies",
                "responds_to": cid,
                "statement": text,
                "language": "en",
                "translations": [],
                "made_at": updated.isoformat(),
                "asserts": {"killed": 0},
                "credibility": None,
                "sources": [],
            },
            vid,
        )
        out["status_changes"].append(
            (
                vid,
                "reported",
                "disputed",
                REPORTER_ORG,
                updated,
                f"{party} denies (claim {ccid})",
                None,
            )
        )
        statements.append(text)
    out["violation_search"].append(
        (vid, search_document(data["title"], data["description"], statements))
    )


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
                for table, cols in TABLES.items():
                    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                        for row in out[table]:
                            copy.write_row(row)
                cur.execute("UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1", last)
            rate = done / (time.perf_counter() - began)
            print(f"    bulk: {done:,}/{count:,} violations ({rate:,.0f}/s)", flush=True)
        producer.join()
    return time.perf_counter() - began


# --- the API path -----------------------------------------------------------------------------


def post_json(port: int, path: str, body: bytes, key: str, timeout: float = 300) -> tuple:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST",
            path,
            body=body,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def api_load(port: int, key: str, n: int, first: int, end: datetime, clients: int = 2):
    """POST violations first .. n-1 in batches of 500 from `clients` threads; returns
    (recorded, seconds, batches, ids)."""
    bodies = [
        json.dumps({"items": [spec(i, n, end) for i in range(s, min(s + BATCH, n))]}).encode()
        for s in range(first, n, BATCH)
    ]
    ids: list[str] = []
    lock = threading.Lock()

    def send(body: bytes) -> int:
        status, answer = post_json(port, "/v1/violations/batch", body, key)
        if status != 200:
            raise RuntimeError(f"batch answered {status}: {answer[:500]!r}")
        results = json.loads(answer)["results"]
        bad = [r for r in results if r["status"] != 201]
        if bad:
            raise RuntimeError(f"{len(bad)} items refused, e.g. {bad[0]}")
        with lock:
            ids.extend(r["id"] for r in results)
        return len(results)

    # Warm-up, not timed: each worker's first batch pays for lazy imports and first-use caches
    # (about half the time of two cold batches). Every item names a party that does not exist,
    # so each is refused after loading and checking and nothing is written.
    refused = [
        {**spec(i, n, end), "attributed_party": "bench-warm-up-unknown"}
        for i in range(first, min(first + BATCH, n))
    ]
    warm = json.dumps({"items": refused}).encode()

    def warm_up(_client: int) -> None:
        status, answer = post_json(port, "/v1/violations/batch", warm, key)
        statuses = {r["status"] for r in json.loads(answer)["results"]} if status == 200 else {}
        if statuses != {422}:
            raise RuntimeError(f"warm-up batch answered {status}: {answer[:500]!r}")

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


def shape_check(port: int, key: str, url: str, api_ids: list[str]) -> str:
    """GET a violation loaded through the API and a bulk one of the same kind (one claim, a
    perpetrator, a time range): the same fields and types, claims and sources included."""
    import psycopg

    kind = (
        "claim_count = 1 AND reported_by = %s AND attributed_party_id IS NOT NULL "
        "AND occurred_until IS NOT NULL"
    )
    with psycopg.connect(libpq(url)) as conn:
        api_id = conn.execute(
            f"SELECT id FROM violations WHERE {kind} AND id = ANY(%s) LIMIT 1",
            (REPORTER_ORG, api_ids),
        ).fetchone()[0]
        bulk_id = conn.execute(
            f"SELECT id FROM violations WHERE {kind} AND NOT id = ANY(%s) "
            "ORDER BY created_at LIMIT 1",
            (REPORTER_ORG, api_ids),
        ).fetchone()[0]
    shapes = []
    for vid in (api_id, bulk_id):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", f"/v1/violations/{vid}", headers={"Authorization": f"Bearer {key}"})
        resp = conn.getresponse()
        body = json.loads(resp.read())
        conn.close()
        if resp.status != 200:
            return f"shape check: GET {vid} answered {resp.status}"
        shapes.append(_shape(body))
    if shapes[0] == shapes[1]:
        return "shape check: a bulk row and an API row answer GET with the same fields and types"
    return f"shape check: DIFFERENT shapes: API {shapes[0]} vs bulk {shapes[1]}"


# --- the whole load ---------------------------------------------------------------------------


def table_counts(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(libpq(url)) as conn:
        return {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in (
                "violations",
                "claims",
                "sources",
                "claim_sources",
                "status_changes",
                "audit_log",
                "violation_search",
            )
        }


def vacuum(url: str) -> None:
    import psycopg

    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


def default_api_rows(n: int) -> int:
    """Rows through the batch API: BENCH_API_ROWS, else 5,000 (500 below 20,000 rows).

    Ten batches: enough that the rate measures throughput rather than the first request of
    each worker and the last commit (two batches of 500 measured 1,238/s where ten measure
    about 2,200/s). The bulk still goes by COPY, which is faster."""
    if os.environ.get("BENCH_API_ROWS"):
        return int(os.environ["BENCH_API_ROWS"]) // BATCH * BATCH
    return 5000 if n >= 20_000 else BATCH


def load(n: int, api_rows: int | None = None, start_server=None) -> Dataset:
    """The whole load of `ledger_bench_<n>`. start_server(url, secret) -> (port, stop) runs the
    service for the API part (http_bench passes its gunicorn starter)."""
    began = time.perf_counter()
    api_rows = default_api_rows(n) if api_rows is None else api_rows
    secret = uuid.uuid4().hex + uuid.uuid4().hex
    end = range_end()
    url = db_url(n)
    print(f"  [{db_name(n)}] create, alembic upgrade head, seed, keys", flush=True)
    create_database(n)
    reporter, reader = prepare_schema(n, secret)
    bulk = n - api_rows
    print(f"  [{db_name(n)}] direct path (COPY): violations 0..{bulk - 1:,}", flush=True)
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
        if start_server is None:
            raise SystemExit("the API part needs a server (run through bench/http_bench.py)")
        print(
            f"  [{db_name(n)}] batch API: violations {bulk:,}..{n - 1:,} in batches of {BATCH}",
            flush=True,
        )
        if bulk:
            # Else autovacuum works through the rows just copied while the batches are timed,
            # on the same cores: a live database of this size would have been vacuumed already.
            vacuum(url)
        port, stop = start_server(url, secret)
        try:
            recorded, seconds, batches, ids = api_load(port, reporter, n, bulk, end)
            if bulk:
                print(f"  [{db_name(n)}] {shape_check(port, reader, url, ids)}", flush=True)
        finally:
            stop()
        data.api_rows, data.api_seconds, data.api_batches = recorded, seconds, batches
        print(
            f"  [{db_name(n)}] batch API: {recorded:,} violations in {seconds:.1f}s = "
            f"{data.api_rate:,.0f} violations/s",
            flush=True,
        )
        vacuum(url)
    data.sample_ids = _sample_ids(url, ids)
    data.counts = table_counts(url)
    data.total_seconds = time.perf_counter() - began
    data.save()
    return data


def _sample_ids(url: str, api_ids: list[str]) -> list[str]:
    """50 violations loaded through the API and 50 bulk ones with a counterclaim."""
    import psycopg

    with psycopg.connect(libpq(url)) as conn:
        bulk = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM violations WHERE claim_count = 2 AND reported_by = %s "
                "ORDER BY created_at DESC LIMIT 50",
                (REPORTER_ORG,),
            )
        ]
    step = max(1, len(api_ids) // 50)
    return api_ids[::step][:50] + bulk


# --- SQLite copies ----------------------------------------------------------------------------


def sqlite_violations(url: str, path: Path) -> float:
    """The violations table alone (same columns, same indexes) in a SQLite file, for Datasette;
    written through SQLAlchemy Core with the service's column types, as the app stores them."""
    from sqlalchemy import create_engine
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    from service.models import Violation

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
    # Rows converted as the app's SQLite types store them (UTC times as naive
    # 'YYYY-MM-DD HH:MM:SS.ffffff', JSON as text, booleans as 0/1), in one transaction.
    import sqlite3

    import psycopg

    names = [c.name for c in table.columns]
    times = {i for i, c in enumerate(table.columns) if c.name in _TIME_COLUMNS}
    jsons = {i for i, c in enumerate(table.columns) if c.name in ("provisions", "tags")}
    insert = f"INSERT INTO violations ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    with psycopg.connect(libpq(url)) as src, sqlite3.connect(path) as dst:
        with src.cursor(name="export") as cur:
            cur.itersize = 5000
            cur.execute(f"SELECT {', '.join(names)} FROM violations")
            while rows := cur.fetchmany(5000):
                out = []
                for row in rows:
                    row = list(row)
                    for i in times:
                        if row[i] is not None:
                            row[i] = row[i].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
                    for i in jsons:
                        row[i] = json.dumps(row[i])
                    out.append(row)
                dst.executemany(insert, out)
        dst.execute("ANALYZE")
    return time.perf_counter() - began


_TIME_COLUMNS = ("occurred_at", "occurred_until", "created_at", "updated_at")


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
    import sqlite3

    import psycopg
    from sqlalchemy import JSON, Date

    from service.models import Base, UTCDateTime

    began = time.perf_counter()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    run([str(VENV_BIN / "alembic"), "upgrade", "head"], service_env(f"sqlite:///{path}", secret))
    with psycopg.connect(libpq(url)) as src, sqlite3.connect(path) as dst:
        for name in LEDGER_TABLES:
            table = Base.metadata.tables[name]
            cols = list(table.columns)
            kinds = []
            for c in cols:
                if isinstance(c.type, UTCDateTime):
                    kinds.append("time")
                elif isinstance(c.type, JSON):
                    kinds.append("json")
                elif isinstance(c.type, Date):
                    kinds.append("date")
                else:
                    kinds.append(None)
            names = ", ".join(c.name for c in cols)
            insert = f"INSERT INTO {name} ({names}) VALUES ({', '.join('?' * len(cols))})"
            with src.cursor(name=f"copy_{name}") as cur:
                cur.itersize = 5000
                cur.execute(f"SELECT {names} FROM {name}")
                while rows := cur.fetchmany(5000):
                    out = []
                    for row in rows:
                        row = list(row)
                        for i, kind in enumerate(kinds):
                            if kind is None or row[i] is None:
                                continue
                            if kind == "time":
                                row[i] = row[i].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
                            elif kind == "json":
                                row[i] = json.dumps(row[i])
                            else:
                                row[i] = row[i].isoformat()
                        out.append(row)
                    dst.executemany(insert, out)
        dst.execute("ANALYZE")
    return time.perf_counter() - began


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, nargs="?", default=int(os.environ.get("N", "100000")))
    ap.add_argument("--api", type=int, default=None, help="rows through the batch API")
    args = ap.parse_args()
    from http_bench import start_service  # the same gunicorn starter as the benchmarks

    data = load(args.n, args.api, start_service)
    print(json.dumps({k: v for k, v in asdict(data).items() if k != "sample_ids"}, indent=2))
    digest = hashlib.sha256(data.reader_key.encode()).hexdigest()[:8]
    print(f"reader key (sha256 {digest}…) and the rest: {RESULTS / (db_name(args.n) + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
