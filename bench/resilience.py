"""Faults under load, measured: `make resilience` (runs through bench/resilience.sh).

Everything runs on loopback against a throwaway PostgreSQL cluster that this script makes itself
(initdb in a temporary folder, its own port); the machine's shared PostgreSQL is never touched.

    worker-kill   writers retry with Idempotency-Keys while every gunicorn worker is SIGKILLed
                  3 times in 60 s: every acknowledged write reads back, none doubled
    db-restart    PostgreSQL stopped for 3 s under load and started again: only 503s with
                  Retry-After, no 500, service back within 5 s, no acknowledged write lost
    hup-reload    two graceful reloads (SIGHUP) under load: no failed request
    two-inst      two gunicorn instances on one cluster and one Redis: one record per
                  Idempotency-Key, one shared rate-limit counter, one change feed
    late-retry    writes left behind a claim that a killed worker or the database restart could
                  not release, retried with the same key once the claim is stale

Prints a table; exits 1 when a target is missed. Usage (the shell wrapper passes --workdir and
cleans up after a crash too):

    .venv/bin/python bench/resilience.py [--workdir DIR] [--budget SECONDS]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import pwd
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import harness
import redis
import requests
from harness import Server, free_port

WRITERS = 4
READERS = 2
# Retry pause after a connection error, 503 or 409. Shorter than the Retry-After the service
# sends (2 s), so that the recovery time measures the service and not our patience.
BACKOFF = 0.2
# A write is retried with the same key and body for at most this long...
WRITE_BUDGET = 20.0
# ...and given up earlier when every retry keeps answering 409: the claim of a request that died
# with its worker stays "in progress" until it is ABANDONED_AFTER old (service/idempotency.py).
STUCK_409_AFTER = 8.0
ABANDONED_AFTER = 150.0
RECOVERY_TARGET = 5.0
RATE = 60  # per key and minute in the two-instance scenario
TIMEOUT = (3, 20)  # connect, read: a reload may queue a request for a few seconds, no more
# Set on SIGTERM/SIGINT: retry loops give up at once so that cleaning up is quick.
ABORT = threading.Event()


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pg_bin() -> Path:
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if not found:
        raise SystemExit("resilience: no PostgreSQL under /usr/lib/postgresql (set PG_BIN)")
    return found[-1].parent


# ---------------------------------------------------------------------------------------------
# The throwaway cluster, gunicorn instances, Redis


class Cluster:
    """A PostgreSQL cluster of our own: own folder, own port, listening on 127.0.0.1 only."""

    def __init__(self, workdir: Path):
        self.dir = workdir / "pg"
        self.data = self.dir / "data"
        self.logfile = self.dir / "postgres.log"
        self.bin = pg_bin()
        self.port = free_port(55432)
        # PostgreSQL refuses to run as root: as root, run its programs as the postgres user.
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/ledger"

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self.as_owner, *args], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {done.stderr.strip()[-500:]}")

    def create(self) -> None:
        self.dir.mkdir()
        if self.as_owner:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            os.chmod(self.dir.parent, 0o711)  # postgres must pass through our folder
        initdb = f"-D {self.data} -U postgres --auth=trust -E UTF8 --no-sync"
        self._run(str(self.bin / "initdb"), *initdb.split())
        self.start()
        self.psql("CREATE DATABASE ledger", db="postgres")

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        log_and_wait = f"-l {self.logfile} -w -t 30"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            *log_and_wait.split(),
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def psql(self, sql: str, db: str = "ledger") -> list[list[str]]:
        """Rows of a query as lists of strings (unaligned, tab-separated output)."""
        conn = f"-h 127.0.0.1 -p {self.port} -U postgres -d {db} -X -q -A -t -v ON_ERROR_STOP=1"
        out = subprocess.run(
            [str(self.bin / "psql"), *conn.split(), "-F", "\t", "-c", sql],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PGCONNECT_TIMEOUT": "5"},
        )
        return [line.split("\t") for line in out.stdout.splitlines() if line]


def problems(server: Server) -> list[str]:
    """Log lines that point at a bug: unhandled errors, tracebacks, worker timeouts."""
    marks = ("unhandled error", "database error", "Traceback", "WORKER TIMEOUT")
    lines = server.log.read_text(errors="replace").splitlines()
    return [ln[:300] for ln in lines if any(m in ln for m in marks)]


# ---------------------------------------------------------------------------------------------
# Load: counted requests, writers that retry with the same key, readers


class Tally:
    """What the clients saw, shared by a scenario's threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_status: Counter = Counter()
        self.conn_errors = 0
        self.without_retry_after = 0  # 503 or 429 that did not say when to retry
        self.not_problem = 0  # error answers that are not RFC 9457 problem+json
        self.events: list[tuple[float, float, str, int | None]] = []  # start, end, kind, status
        self.samples: list[str] = []  # the first few 5xx answers, for the report

    def record(self, t0: float, kind: str, resp: requests.Response | None) -> None:
        status = None if resp is None else resp.status_code
        with self.lock:
            self.events.append((t0, time.monotonic(), kind, status))
            if status is None:
                self.conn_errors += 1
                return
            self.by_status[status] += 1
            if status in (429, 503) and not resp.headers.get("Retry-After"):
                self.without_retry_after += 1
            if status >= 400 and not resp.headers.get("Content-Type", "").startswith(
                "application/problem+json"
            ):
                self.not_problem += 1
            if status >= 500 and status != 503 and len(self.samples) < 5:
                self.samples.append(f"{status} {resp.text[:200]}")

    @property
    def requests(self) -> int:
        return sum(self.by_status.values()) + self.conn_errors

    def count(self, low: int, high: int) -> int:
        return sum(n for s, n in self.by_status.items() if low <= s <= high)

    def longest_silence(self) -> float:
        """The longest stretch in which no request got a successful answer."""
        ends = sorted(e for _s, e, _k, st in self.events if st and 200 <= st < 300)
        return max((b - a for a, b in zip(ends, ends[1:], strict=False)), default=0.0)


def call(session: requests.Session, tally: Tally, kind: str, method: str, url: str, **kw):
    t0 = time.monotonic()
    try:
        resp = session.request(method, url, timeout=TIMEOUT, **kw)
    except requests.RequestException:
        tally.record(t0, kind, None)
        return None
    tally.record(t0, kind, resp)
    return resp


@dataclass
class Write:
    """One logical write: a unique title, its own Idempotency-Key, the same body on every try."""

    title: str
    key: str
    body: dict
    outcome: str = "pending"  # acked, stuck-409, gave-up, refused-<status>
    id: str | None = None
    replayed: bool = False
    statuses: list = field(default_factory=list)  # per attempt; None = connection error


def new_write(run_id: str, scenario: str, thread: int, n: int) -> Write:
    title = f"resilience {run_id} {scenario} w{thread} #{n}"
    body = {
        # Like the README's: a violation with its claim and the claim's source in one
        # transaction, so a fault mid-request could leave something half-written.
        "title": title,
        "category": "shelling",
        "occurred_at": "2018-11-14T08:30:00Z",
        "date_precision": "exact",
        "location": {
            "name": "Kafr Nabl",
            "admin1": "Idlib",
            "country": "SY",
            "lat": 35.6133,
            "lon": 36.5603,
            "precision": "exact",
        },
        "attributed_party": "syrian-government",
        "tags": ["resilience"],
        "claims": [
            {
                "claimant": "sohr",
                "stance": "alleges",
                "statement": "Government artillery shelled the market.",
                "language": "en",
                "sources": [
                    {
                        "source": {
                            "kind": "ngo_report",
                            "title": "Daily report",
                            "publisher": "Syrian Observatory for Human Rights",
                        },
                        "excerpt": "the market was shelled",
                    }
                ],
            }
        ],
    }
    return Write(title=title, key=f"res-{run_id}-{scenario}-{thread}-{n}", body=body)


def post_until_settled(
    session: requests.Session,
    tally: Tally,
    bases: list[str],
    auth: dict,
    w: Write,
    budget: float = WRITE_BUDGET,
    stuck_after: float = STUCK_409_AFTER,
) -> None:
    """POST w, retrying the same key and body on connection errors, 503, 409 and 429, as a
    careful client does, until it is acknowledged, refused, or the budget is spent."""
    start = time.monotonic()
    first_409 = None
    attempt = 0
    while True:
        base = bases[attempt % len(bases)]
        attempt += 1
        headers = {**auth, "Idempotency-Key": w.key}
        resp = call(
            session, tally, "write", "POST", base + "/v1/violations", json=w.body, headers=headers
        )
        status = None if resp is None else resp.status_code
        w.statuses.append(status)
        if status in (200, 201):
            w.outcome = "acked"
            w.id = resp.json()["id"]
            w.replayed = resp.headers.get("Idempotent-Replayed") == "true"
            return
        now = time.monotonic()
        if status == 409:
            first_409 = first_409 or now
            if now - first_409 > stuck_after:
                w.outcome = "stuck-409"
                return
        elif status not in (None, 429, 503):
            w.outcome = f"refused-{status}"
            return
        if now - start > budget or ABORT.is_set():
            w.outcome = "gave-up"
            return
        pause = BACKOFF * (1 + random.random())
        if status == 429:
            pause = float(resp.headers.get("Retry-After") or 1)
        time.sleep(pause)


@dataclass
class Load:
    """Writer and reader threads against one or more instances, until stop()."""

    scenario: str
    run_id: str
    bases: list[str]
    auth: dict
    tally: Tally = field(default_factory=Tally)
    writes: list[Write] = field(default_factory=list)
    halt: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, writers: int = WRITERS, readers: int = READERS) -> Load:
        for i in range(writers):
            self._spawn(self._writer, i)
        for i in range(readers):
            self._spawn(self._reader, i)
        return self

    def _spawn(self, target: Callable[[int], None], i: int) -> None:
        t = threading.Thread(target=target, args=(i,), daemon=True)
        t.start()
        self.threads.append(t)

    def _writer(self, i: int) -> None:
        session = requests.Session()
        n = 0
        while not self.halt.is_set():
            n += 1
            w = new_write(self.run_id, self.scenario, i, n)
            self.writes.append(w)
            bases = self.bases[i % len(self.bases) :] + self.bases[: i % len(self.bases)]
            post_until_settled(session, self.tally, bases, self.auth, w)

    def _reader(self, i: int) -> None:
        session = requests.Session()
        while not self.halt.is_set():
            base = self.bases[i % len(self.bases)]
            resp = call(
                session,
                self.tally,
                "read",
                "GET",
                base + "/v1/violations?limit=20",
                headers=self.auth,
            )
            time.sleep(0.02 if resp is not None and resp.ok else BACKOFF)

    def stop(self) -> None:
        # A writer finishes the write it is on (bounded by WRITE_BUDGET), so none is cut off
        # half-retried and miscounted as unacknowledged.
        self.halt.set()
        for t in self.threads:
            t.join(timeout=1 if ABORT.is_set() else WRITE_BUDGET + 25)


@dataclass
class Verdict:
    acked: int
    lost: list[str]
    doubled: list[str]
    half_written: list[str]
    unacked: Counter
    unacked_recorded: int


def verify_writes(cluster: Cluster, base: str, auth: dict, writes: list[Write]) -> Verdict:
    """Every acknowledged write is in the database with its claim, exactly once, and reads back
    through the API: in SQL, and with GET for each (a sample above 1,000)."""
    if not writes:
        return Verdict(0, [], [], [], Counter(), 0)
    prefix = writes[0].title.rsplit(" w", 1)[0].replace("'", "''")
    rows = cluster.psql(
        "SELECT v.id, v.title, (SELECT count(*) FROM claims c WHERE c.violation_id = v.id)"
        f" FROM violations v WHERE v.title LIKE '{prefix} w%'"
    )
    by_title: dict[str, list[str]] = defaultdict(list)
    for vid, title, _claims in rows:
        by_title[title].append(vid)
    acked = [w for w in writes if w.outcome == "acked"]
    lost = [w.title for w in acked if w.id not in by_title.get(w.title, [])]
    doubled = sorted(t for t, ids in by_title.items() if len(ids) > 1)
    half = [vid for vid, _t, claims in rows if claims != "1"]
    unacked = [w for w in writes if w.outcome != "acked"]
    recorded = sum(1 for w in unacked if w.title in by_title)
    session = requests.Session()
    sample = acked if len(acked) <= 1000 else random.sample(acked, 1000)
    for w in sample:
        resp = session.get(f"{base}/v1/violations/{w.id}", headers=auth, timeout=TIMEOUT)
        if resp.status_code != 200 or resp.json().get("title") != w.title:
            lost.append(f"{w.title} (GET {resp.status_code})")
    return Verdict(len(acked), lost, doubled, half, Counter(w.outcome for w in unacked), recorded)


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class Result:
    scenario: str
    tally: Tally
    target: str
    passed: bool
    recovery: float | None = None
    lost: int | None = None
    doubled: int | None = None
    notes: list[str] = field(default_factory=list)


def print_table(results: list[Result]) -> None:
    head = ["scenario", "requests", "2xx", "4xx", "5xx", "503s", "500s"]
    head += ["conn err", "recovery s", "lost", "doubled", "target", "result"]
    rows = []
    for r in results:
        t = r.tally
        rows.append(
            [
                r.scenario,
                t.requests,
                t.count(200, 299),
                t.count(400, 499),
                t.count(500, 599),
                t.by_status[503],
                t.by_status[500],
                t.conn_errors,
                "-" if r.recovery is None else f"{r.recovery:.2f}",
                "-" if r.lost is None else r.lost,
                "-" if r.doubled is None else r.doubled,
                r.target,
                "PASS" if r.passed else "FAIL",
            ]
        )
    print("\n" + "\n".join(harness.table(head, rows)) + "\n")
    for r in results:
        for note in r.notes:
            print(f"{r.scenario}: {note}")


def describe(v: Verdict, writes: list[Write]) -> list[str]:
    replayed = sum(1 for w in writes if w.outcome == "acked" and w.replayed)
    notes = [
        f"writes: {len(writes)} logical, {v.acked} acknowledged ({replayed} by a replay), "
        f"unacknowledged {dict(v.unacked) or 0}, of which recorded anyway {v.unacked_recorded}"
    ]
    if v.lost:
        notes.append(f"LOST: {v.lost[:5]}")
    if v.doubled:
        notes.append(f"DOUBLED: {v.doubled[:5]}")
    if v.half_written:
        notes.append(f"violations without exactly one claim: {v.half_written[:5]}")
    return notes


def server_notes(*instances: Server) -> list[str]:
    notes = []
    for g in instances:
        found = problems(g)
        if found:
            notes.append(f"{g.name} log has {len(found)} error line(s), first: {found[:3]}")
    return notes


# ---------------------------------------------------------------------------------------------
# Scenarios


@dataclass
class Context:
    run_id: str
    workdir: Path
    cluster: Cluster
    env: dict[str, str]
    reporter: dict  # Authorization header of the writers' reporter key
    admin: dict
    deadline: float  # monotonic time by which everything must be over
    stuck: list[Write] = field(default_factory=list)  # writes to retry once claims are stale

    def instance(self, name: str, **extra: str) -> Server:
        env = {**self.env, **extra, "WEB_CONCURRENCY": "2"}
        pidfile = self.workdir / f"{name}.gunicorn.pid"
        server = harness.gunicorn(
            name, env, self.workdir, workers_wanted=2, pidfile=pidfile, stop_timeout=15
        )
        return server.start(timeout=30)


def under_load(
    ctx: Context, name: str, scenario: str, faults: Callable[[Server], Any], readers: int = READERS
) -> tuple[Server, Load, Verdict, Any]:
    """An instance under writers (and readers) while `faults(instance)` runs; then the writes
    checked and the instance stopped. Writes left behind a claim still "in progress" are kept
    for the late retry. Returns the instance, the load, the verdict and what faults returned."""
    g = ctx.instance(name)
    load = Load(scenario, ctx.run_id, [g.base], ctx.reporter).start(readers=readers)
    try:
        got = faults(g)
    finally:
        load.stop()
    v = verify_writes(ctx.cluster, g.base, ctx.reporter, load.writes)
    g.stop()
    ctx.stuck += [w for w in load.writes if w.outcome == "stuck-409"]
    return g, load, v, got


def scenario_worker_kill(ctx: Context) -> Result:
    """Every worker SIGKILLed 3 times in 60 s while writers retry with their keys. Runs first so
    that the claims its kills leave behind are old enough for the late retry at the end."""
    kills = []

    def faults(g: Server) -> None:
        began = time.monotonic()
        for at in (5, 25, 45):
            time.sleep(max(0, began + at - time.monotonic()))
            pids = g.workers()
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            kills.append(len(pids))
            log(f"worker-kill: SIGKILL to workers {pids} at {at} s")
            g.wait_ready(old=set(pids))
        time.sleep(max(0, began + 55 - time.monotonic()))

    g, load, v, _ = under_load(ctx, "worker-kill", "kill", faults, readers=0)
    hit = [w for w in load.writes if None in w.statuses]
    paths = Counter(
        "replayed" if w.replayed else (w.outcome if w.outcome != "acked" else "re-run") for w in hit
    )
    t = load.tally
    passed = (
        len(kills) == 3
        and t.by_status[500] == 0
        and not v.lost
        and not v.doubled
        and not v.half_written
    )
    notes = describe(v, load.writes) + [
        f"kills: {kills} workers; writes cut by a kill: {len(hit)}, then {dict(paths)} "
        "(re-run = the retry ran it anew; replayed = it had committed; stuck-409 = its claim "
        f"stays in progress until {ABANDONED_AFTER:.0f} s old)",
        f"409 answers: {t.by_status[409]}; longest stretch without a 2xx "
        f"{t.longest_silence():.2f} s",
    ]
    return Result(
        "worker-kill (3x SIGKILL/60 s)",
        t,
        "0 lost/doubled, 0x500",
        passed,
        lost=len(v.lost),
        doubled=len(v.doubled),
        notes=notes + server_notes(g),
    )


def scenario_db_restart(ctx: Context) -> Result:
    """PostgreSQL stopped under load for 3 s, then started: 503 + Retry-After, never 500."""

    def faults(_g: Server) -> tuple[float, float]:
        time.sleep(5)
        t_stop = time.monotonic()
        ctx.cluster.stop("fast")
        t_down = time.monotonic()
        log(f"db-restart: cluster stopped ({t_down - t_stop:.2f} s); load goes on for 3 s")
        time.sleep(3)
        t_restart = time.monotonic()
        ctx.cluster.start()
        log(f"db-restart: cluster started ({time.monotonic() - t_restart:.2f} s)")
        time.sleep(8)  # recovery, then a stretch of normal service
        return t_down, t_restart

    g, load, v, (t_down, t_restart) = under_load(ctx, "db-restart", "dbrestart", faults)
    t = load.tally
    firsts = {}
    for kind in ("read", "write"):
        ends = [
            e
            for _s, e, k, st in t.events
            if k == kind and st and 200 <= st < 300 and e >= t_restart
        ]
        firsts[kind] = min(ends) - t_restart if ends else None
    known = [x for x in firsts.values() if x is not None]
    recovery = min(known) if known else None
    while_down = sum(
        1 for s, e, _k, st in t.events if st and 200 <= st < 300 and s >= t_down and e <= t_restart
    )
    other_5xx = t.count(500, 599) - t.by_status[503]
    passed = (
        t.by_status[500] == 0
        and other_5xx == 0
        and t.without_retry_after == 0
        and t.not_problem == 0
        and recovery is not None
        and recovery <= RECOVERY_TARGET
        and not v.lost
        and not v.doubled
        and not v.half_written
    )
    fmt = {k: "never" if x is None else f"{x:.2f} s" for k, x in firsts.items()}
    notes = describe(v, load.writes) + [
        f"first 2xx after the restart began: read {fmt['read']}, write {fmt['write']}; "
        f"2xx while the database was down: {while_down}",
        f"503 without Retry-After: {t.without_retry_after}; errors not problem+json: "
        f"{t.not_problem}; 409 answers: {t.by_status[409]}",
    ]
    if v.unacked["stuck-409"]:
        notes.append(
            f"{v.unacked['stuck-409']} write(s) in flight when the database went down: the "
            "503 could not release their Idempotency-Key claim (the database was gone), so "
            f"each retry got 409 until given up after {STUCK_409_AFTER:.0f} s"
        )
    notes += [f"5xx sample: {s}" for s in t.samples]
    return Result(
        "db-restart (3 s down)",
        t,
        f"0x500, 503+Retry-After, <={RECOVERY_TARGET:.0f} s, 0 lost",
        passed,
        recovery=recovery,
        lost=len(v.lost),
        doubled=len(v.doubled),
        notes=notes + server_notes(g),
    )


def scenario_hup_reload(ctx: Context) -> Result:
    """Two graceful reloads under load: the listening socket stays, old workers finish their
    requests, so no client may see an error."""

    def faults(g: Server) -> None:
        for _ in range(2):
            time.sleep(3)
            old = set(g.workers())
            os.kill(g.master, signal.SIGHUP)
            t0 = time.monotonic()
            g.wait_ready(old=old)
            log(
                f"hup-reload: SIGHUP; workers {sorted(old)} replaced in "
                f"{time.monotonic() - t0:.1f} s"
            )
        time.sleep(4)

    g, load, v, _ = under_load(ctx, "hup-reload", "hup", faults)
    t = load.tally
    slowest = max((e - s for s, e, _k, _st in t.events), default=0)
    passed = t.conn_errors == 0 and t.count(500, 599) == 0 and not v.lost and not v.doubled
    notes = describe(v, load.writes) + [
        f"slowest request {slowest:.2f} s; longest stretch without a 2xx "
        f"{t.longest_silence():.2f} s (old workers stop at once, the new ones are still "
        "importing the app: requests wait in the listen backlog)"
    ]
    notes += [f"5xx sample: {s}" for s in t.samples]
    return Result(
        "hup-reload (2x SIGHUP)",
        t,
        "0 conn err, 0x5xx",
        passed,
        lost=len(v.lost),
        doubled=len(v.doubled),
        notes=notes + server_notes(g),
    )


def create_key(base: str, admin: dict, org: str, role: str) -> dict:
    resp = requests.post(
        f"{base}/v1/keys", json={"org": org, "role": role}, headers=admin, timeout=TIMEOUT
    )
    resp.raise_for_status()
    return {"Authorization": f"Bearer {resp.json()['key']}"}


def race_same_key(ctx: Context, a: Server, b: Server, rounds: int = 5) -> Result:
    """(a) One Idempotency-Key and body sent to both instances at once, 8 times concurrently:
    exactly one record, and every acknowledgement names it."""
    tally = Tally()
    org = f"race-{ctx.run_id}"
    bad = []
    firsts: Counter = Counter()
    doubled = lost = 0
    for r in range(rounds):
        # A key per round keeps each one far below the 60/minute limit.
        auth = create_key(a.base, ctx.admin, org, "reporter")
        proto = new_write(ctx.run_id, "race", 0, r)
        gate = threading.Barrier(8)
        tries = [Write(proto.title, proto.key, proto.body) for _ in range(8)]

        def fire(i: int, w: Write, gate=gate, auth=auth) -> None:
            base = (a, b)[i % 2].base
            gate.wait()
            post_until_settled(
                requests.Session(), tally, [base], auth, w, budget=15, stuck_after=10
            )

        threads = [threading.Thread(target=fire, args=(i, w)) for i, w in enumerate(tries)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for w in tries:
            first = w.statuses[0]
            firsts[
                "replay" if first == 201 and w.replayed and len(w.statuses) == 1 else str(first)
            ] += 1
        ids = {w.id for w in tries}
        rows = ctx.cluster.psql(f"SELECT id FROM violations WHERE title = '{proto.title}'")
        if any(w.outcome != "acked" for w in tries) or len(ids) != 1:
            bad.append(f"round {r}: outcomes {[w.outcome for w in tries]}, ids {ids}")
        doubled += len(rows) > 1
        lost += not rows or rows[0][0] not in ids
    passed = not bad and doubled == 0 and lost == 0 and tally.count(500, 599) == 0
    notes = [
        f"{rounds} rounds x 8 concurrent POSTs (4 per instance); first answers "
        f"{dict(firsts)}; after retries every caller got the same id: {not bad}"
    ]
    notes += bad
    return Result(
        "two-inst: same key on both",
        tally,
        "1 record per key",
        passed,
        lost=lost,
        doubled=doubled,
        notes=notes,
    )


def shared_rate_limit(ctx: Context, a: Server, b: Server, redis_url: str) -> Result:
    """(b) A key hammering both instances gets at most RATE successes in the window in total
    (the counter lives in Redis), then 429 with Retry-After."""
    tally = Tally()
    auth = create_key(a.base, ctx.admin, f"hammer-{ctx.run_id}", "reader")

    def hammer(g: Server) -> None:
        session = requests.Session()
        for _ in range(RATE * 3 // 4):
            call(session, tally, "read", "GET", g.base + "/v1/violations?limit=1", headers=auth)

    threads = [threading.Thread(target=hammer, args=(g,)) for g in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = tally.count(200, 299)
    limited = [(s, e) for s, e, _k, st in tally.events if st == 429]
    first_429 = min((e for _s, e in limited), default=None)
    ok_after = (
        0
        if first_429 is None
        else sum(1 for s, _e, _k, st in tally.events if st and 200 <= st < 300 and s > first_429)
    )
    keys = redis.from_url(redis_url).dbsize()
    passed = (
        0 < ok <= RATE
        and limited
        and tally.without_retry_after == 0
        and ok_after == 0
        and tally.count(500, 599) == 0
        and tally.conn_errors == 0
    )
    notes = [
        f"{tally.requests} GETs over 2 instances x 2 workers: {ok} x 2xx, {len(limited)} x 429 "
        f"(without Retry-After: {tally.without_retry_after}); 2xx after the first 429: "
        f"{ok_after}; keys in the Redis db: {keys}"
    ]
    return Result(
        f"two-inst: rate {RATE}/min",
        tally,
        f"<={RATE}x2xx, 429+Retry-After",
        bool(passed),
        notes=notes,
    )


def read_feed(session, tally, base: str, keys: list[dict], after: int) -> list[dict]:
    """The whole feed after `after`, page by page; keys rotate to stay under the rate limit."""
    items: list[dict] = []
    n = 0
    while True:
        resp = call(
            session,
            tally,
            "read",
            "GET",
            f"{base}/v1/changes?after={after}&limit=500",
            headers=keys[n % len(keys)],
        )
        n += 1
        if resp is None or resp.status_code != 200:
            raise RuntimeError(
                f"change feed page after {after}: "
                f"{'connection error' if resp is None else resp.status_code}"
            )
        page = resp.json()
        items += page["items"]
        if not page["items"]:
            return items
        after = int(page["next_cursor"])


def change_feed(ctx: Context, a: Server, b: Server) -> Result | None:
    """(c) The change feed read through A equals the one read through B, in the same order, and
    a poller on A during writes to both misses nothing."""
    spec = requests.get(a.base + "/v1/openapi.yaml", timeout=TIMEOUT).text
    if "/v1/changes" not in spec:
        log("two-inst: skipped: no change feed yet")
        return None
    tally = Tally()
    session = requests.Session()
    org = f"feed-{ctx.run_id}"
    start = int(ctx.cluster.psql("SELECT coalesce(max(seq), 0) FROM audit_log")[0][0])
    # The whole log is read through both instances: enough keys that none passes its limit.
    per_side = max(1, math.ceil((start + 1000) / 500 / (RATE - 10)))
    keys_a = [create_key(a.base, ctx.admin, org, "reader") for _ in range(per_side + 1)]
    keys_b = [create_key(a.base, ctx.admin, org, "reader") for _ in range(per_side)]
    writer = create_key(a.base, ctx.admin, org, "reporter")
    # Admin keys of the scenario's own, as many, to read the whole log as an admin does.
    auditors = [create_key(a.base, ctx.admin, f"{org}-admins", "admin") for _ in range(per_side)]
    seen: list[dict] = []
    done = threading.Event()

    def poll() -> None:
        after = start
        poll_session = requests.Session()
        while True:
            finished = done.is_set()
            resp = call(
                poll_session,
                tally,
                "read",
                "GET",
                f"{a.base}/v1/changes?after={after}&limit=500",
                headers=keys_a[-1],
            )
            if resp is not None and resp.status_code == 200:
                page = resp.json()
                seen.extend(page["items"])
                after = int(page["next_cursor"])
                if finished and not page["items"]:
                    return
            time.sleep(0.25)

    poller = threading.Thread(target=poll)
    poller.start()
    writes = []
    for n in range(20):  # alternately through A and B, below the writer key's limit
        w = new_write(ctx.run_id, "feed", 0, n)
        post_until_settled(session, tally, [(a, b)[n % 2].base], writer, w)
        writes.append(w)
    done.set()
    poller.join(timeout=30)
    via_a = read_feed(session, tally, a.base, keys_a[:-1], 0)
    via_b = read_feed(session, tally, b.base, keys_b, 0)
    # The whole log is gapless as an admin reads it; readers see it without the entries about
    # organisations and keys, which are for admins only.
    whole = read_feed(session, tally, b.base, auditors, 0)
    seqs = [e["seq"] for e in whole]
    gapless = seqs == list(range(1, len(seqs) + 1)) and via_b == [
        e for e in whole if e["entity"] not in ("organisation", "api_key")
    ]
    tail = [e for e in via_b if e["seq"] > start]
    created = {e["entity_id"] for e in seen if e["entity"] == "violation"}
    missing = [w.title for w in writes if w.outcome == "acked" and w.id not in created]
    passed = (
        via_a == via_b
        and gapless
        and seen == tail
        and not missing
        and all(w.outcome == "acked" for w in writes)
    )
    notes = [
        f"{len(via_a)} entries through A, {len(via_b)} through B, equal and in the same order: "
        f"{via_a == via_b}; seq 1..N without gaps (as an admin reads it, and readers see it less "
        f"the entries about organisations and keys): {gapless}",
        f"poller on A during 20 writes to A and B saw {len(seen)} entries, equal to B's tail: "
        f"{seen == tail}; acknowledged violations missing from what it saw: {len(missing)}",
    ]
    return Result("two-inst: change feed", tally, "A == B, 0 missed", passed, notes=notes)


def scenario_two_instances(ctx: Context) -> list[Result]:
    redis_url = os.environ.get("RESILIENCE_REDIS_URL", "redis://127.0.0.1:6379/15")
    redis.from_url(redis_url).flushdb()  # our dedicated db: no counts from an earlier run
    extra = {"REDIS_URL": redis_url, "RATE_LIMIT": f"{RATE}/minute"}
    a = ctx.instance("two-inst-a", **extra)
    b = ctx.instance("two-inst-b", **extra)
    try:
        results = [race_same_key(ctx, a, b), shared_rate_limit(ctx, a, b, redis_url)]
        feed = change_feed(ctx, a, b)
        if feed is None:
            print("skipped: no change feed yet")
        else:
            results.append(feed)
        late = late_retry(ctx, a)
        if late is not None:
            results.append(late)
    finally:
        a.stop()
        b.stop()
        redis.from_url(redis_url).flushdb()
    results[0].notes += server_notes(a, b)
    return results


def late_retry(ctx: Context, g: Server) -> Result | None:
    """Writes given up on while a dead request's claim still looked alive: once the claim is
    ABANDONED_AFTER old, the same key and body must record each exactly once. Only the claims
    that turn stale within the time budget are waited for; the rest are reported."""
    if not ctx.stuck:
        return None
    keys = ", ".join("'" + w.key + "'" for w in ctx.stuck)
    rows = ctx.cluster.psql(
        "SELECT key, state, extract(epoch FROM now() - updated_at) FROM idempotency_keys"
        f" WHERE key IN ({keys})"
    )
    states = Counter(state for _k, state, _age in rows)
    age = {k: float(a) for k, _s, a in rows}
    room = max(0.0, ctx.deadline - time.monotonic() - 15)  # 15 s to retry and clean up
    due = [w for w in ctx.stuck if age.get(w.key, 0) + room >= ABANDONED_AFTER + 1]
    left = len(ctx.stuck) - len(due)
    wait = max((ABANDONED_AFTER + 1 - age.get(w.key, 0) for w in due), default=0.0)
    note = (
        f"{len(ctx.stuck)} writes given up on behind a live-looking claim; their keys' "
        f"states: {dict(states)}; claim ages {sorted(round(a) for a in age.values())} s"
    )
    tally = Tally()
    if not due:
        return Result(
            "late retry of stuck writes",
            tally,
            "(report only)",
            True,
            notes=[
                note,
                f"none turns {ABANDONED_AFTER:.0f} s old within the time budget: not retried",
            ],
        )
    log(
        f"late-retry: waiting {wait:.0f} s until {len(due)} of {len(ctx.stuck)} stuck claims "
        f"are {ABANDONED_AFTER:.0f} s old"
    )
    time.sleep(max(0.0, wait))
    session = requests.Session()
    for w in due:  # the writers' own key: Idempotency-Keys are scoped to its organisation
        w.statuses, w.outcome = [], "pending"
        post_until_settled(session, tally, [g.base], ctx.reporter, w, budget=10, stuck_after=5)
    titles = ", ".join("'" + w.title + "'" for w in due)
    counts = Counter(
        t for (t,) in ctx.cluster.psql(f"SELECT title FROM violations WHERE title IN ({titles})")
    )
    acked = [w for w in due if w.outcome == "acked"]
    doubled = sum(1 for n in counts.values() if n > 1)
    lost = sum(1 for w in acked if counts[w.title] != 1)
    passed = len(acked) == len(due) and doubled == 0 and lost == 0
    notes = [
        note,
        f"retried {len(due)} after the wait: {dict(Counter(w.outcome for w in due))}"
        f"; not retried (claim too young for the time budget): {left}",
    ]
    return Result(
        "late retry of stuck writes",
        tally,
        "each recorded once",
        passed,
        lost=lost,
        doubled=doubled,
        notes=notes,
    )


# ---------------------------------------------------------------------------------------------
# Setup and main


def prepare(workdir: Path, deadline: float) -> tuple[Context, Cluster]:
    run_id = uuid.uuid4().hex[:8]
    cluster = Cluster(workdir)
    log(f"cluster: initdb in {cluster.dir}, port {cluster.port}")
    cluster.create()
    # A secret set, so that no instance writes one into instance/ and all sign cursors alike;
    # no rate limit: the load scenarios measure faults, not the limiter.
    env = harness.service_env(cluster.url, secrets.token_urlsafe(32), PYTHONUNBUFFERED="1")
    for name in ("REDIS_URL", "PUBLIC_READS"):
        env.pop(name, None)
    harness.cli(env, "alembic", "upgrade", "head")
    log("cluster: migrated; " + harness.cli(env, "flask", "seed").strip())
    org = f"resilience-{run_id}"
    reporter = harness.make_key(env, org, "reporter")
    admin = harness.make_key(env, f"{org}-admin", "admin")
    ctx = Context(
        run_id=run_id,
        workdir=workdir,
        cluster=cluster,
        env=env,
        reporter={"Authorization": f"Bearer {reporter}"},
        admin={"Authorization": f"Bearer {admin}"},
        deadline=deadline,
    )
    return ctx, cluster


def on_signal(signum, _frame):
    ABORT.set()
    raise SystemExit(128 + signum)  # unwinds through the finally blocks, which clean up


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="empty folder to work in (default: a temp)")
    parser.add_argument("--budget", type=float, default=225, help="seconds the run may take")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    began = time.monotonic()
    own_dir = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="ledger-resilience.")) if own_dir else args.workdir
    cluster = None
    results: list[Result] = []
    failed_to_run: list[str] = []
    try:
        ctx, cluster = prepare(workdir, began + args.budget)
        log(f"setup done in {time.monotonic() - began:.1f} s")
        for scenario in (
            scenario_worker_kill,
            scenario_db_restart,
            scenario_hup_reload,
            scenario_two_instances,
        ):
            name = scenario.__name__.removeprefix("scenario_")
            log(f"{name}: start")
            try:
                out = scenario(ctx)
            except Exception as exc:  # one broken scenario must not hide the others' numbers
                log(f"{name}: could not run: {exc!r}")
                failed_to_run.append(f"{name}: {exc!r}")
                if not cluster.running():
                    cluster.start()
                continue
            results += out if isinstance(out, list) else [out]
    finally:
        for pidfile in workdir.glob("*.gunicorn.pid"):  # only after a crash mid-scenario
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.killpg(int(pidfile.read_text()), signal.SIGKILL)
        if cluster is not None and cluster.running():
            cluster.stop("immediate")
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(results)
    for line in failed_to_run:
        print(f"FAIL (did not run): {line}")
    print(f"\nresilience: {time.monotonic() - began:.0f} s in all")
    ok = results and not failed_to_run and all(r.passed for r in results)
    print("resilience: all targets met" if ok else "resilience: TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
