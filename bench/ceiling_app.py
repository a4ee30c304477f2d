"""The practical ceiling: plain Flask + SQLAlchemy Core on the ledger's own tables.

    DATABASE_URL=postgresql+psycopg://... gunicorn -c gunicorn.conf.py bench.ceiling_app:app

GET  /list?attributed_party=X&occurred_from=Y&limit=50
     the same filtered keyset query as GET /v1/violations (same WHERE on the same indexed
     expressions, ORDER BY created_at, id, LIMIT limit+1, the affected parties of the page in one
     more query) and the same item shape and next cursor, dumped with json.dumps. No schema, no
     ETag, no request log, no metrics; with CEILING_AUTH=1 (or ?auth=1) it also looks the
     Bearer key up by its SHA-256, as the service does.
POST /create
     the body of POST /v1/violations with one claim and one inline source, inserted as it comes
     (violation, source, claim, claim source) in one transaction: no validation, no audit entry,
     no status history, no search document.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import UTC, datetime

from flask import Flask, Response, abort, request
from itsdangerous import URLSafeSerializer
from sqlalchemy import create_engine, select, tuple_

from service.models import (
    OCCURRED_END,
    AffectedParty,
    ApiKey,
    Claim,
    ClaimSource,
    Source,
    Violation,
)

V = Violation.__table__
LOCATION = {
    "name": "location_name",
    "admin1": "admin1",
    "admin2": "admin2",
    "country": "country",
    "lat": "lat",
    "lon": "lon",
    "precision": "location_precision",
}
COLUMNS = [c for c in V.c if c.name not in ("external_ref", "verdict")]

app = Flask(__name__)
engine = create_engine(os.environ["DATABASE_URL"], pool_size=5, max_overflow=5, pool_pre_ping=True)
cursors = URLSafeSerializer(os.environ.get("SECRET_KEY") or "ceiling", salt="cursor")
AUTH = os.environ.get("CEILING_AUTH") == "1"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _figure(row, prefix: str) -> dict | None:
    out = {f: row[f"{prefix}_{f}"] for f in ("low", "best", "high")}
    out = {k: v for k, v in out.items() if v is not None}
    return out or None


def _item(row, affected: list[str]) -> dict:
    location = {key: row[col] for key, col in LOCATION.items()}
    casualties: dict = {}
    for group in ("killed", "injured"):
        if (fig := _figure(row, group)) is not None:
            casualties[group] = fig
    civilian = {
        g: fig for g in ("killed", "injured") if (fig := _figure(row, f"civilian_{g}")) is not None
    }
    if civilian:
        casualties["civilian"] = civilian
    return {
        "id": row["id"],
        "title": row["title"],
        "description": row["description"],
        "category": row["category"],
        "occurred_at": _iso(row["occurred_at"]),
        "occurred_until": _iso(row["occurred_until"]),
        "date_precision": row["date_precision"],
        "location": location if any(v is not None for v in location.values()) else None,
        "agreement": row["agreement_id"],
        "provisions": row["provisions"] or [],
        "attributed_party": row["attributed_party_id"],
        "affected_parties": affected,
        "casualties": casualties,
        "tags": row["tags"] or [],
        "status": row["status"],
        "in_agreement_zone": row["in_agreement_zone"],
        "claim_count": row["claim_count"],
        "reported_by": row["reported_by"],
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
        "version": row["version"],
    }


def _check_key(conn) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        abort(401)
    digest = hashlib.sha256(token.strip().encode()).hexdigest()
    found = conn.execute(
        select(ApiKey.id).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None))
    ).first()
    if found is None:
        abort(401)


@app.get("/list")
def list_violations():
    args = request.args
    limit = min(int(args.get("limit", 50)), 500)
    where = []
    if args.get("attributed_party"):
        where.append(V.c.attributed_party_id == args["attributed_party"])
    if args.get("occurred_from"):
        since = datetime.fromisoformat(args["occurred_from"])
        where.append(OCCURRED_END >= since)  # noqa: SIM300 (a SQL expression)
    if args.get("cursor"):
        after = cursors.loads(args["cursor"])
        where.append(
            tuple_(V.c.created_at, V.c.id) > tuple_(datetime.fromisoformat(after["t"]), after["id"])
        )
    stmt = select(*COLUMNS).where(*where).order_by(V.c.created_at, V.c.id).limit(limit + 1)
    with engine.connect() as conn:
        if AUTH or args.get("auth") == "1":
            _check_key(conn)
        rows = [r._mapping for r in conn.execute(stmt)]
        page = rows[:limit]
        affected: dict[str, list[str]] = {r["id"]: [] for r in page}
        if page:
            for vid, pid in conn.execute(
                select(AffectedParty.violation_id, AffectedParty.party_id)
                .where(AffectedParty.violation_id.in_(list(affected)))
                .order_by(AffectedParty.violation_id, AffectedParty.position)
            ):
                affected[vid].append(pid)
    nxt = None
    if len(rows) > limit:
        last = page[-1]
        nxt = cursors.dumps({"t": _iso(last["created_at"]), "id": last["id"]})
    body = {"items": [_item(r, affected[r["id"]]) for r in page], "next_cursor": nxt}
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")


def _dt(value):
    return datetime.fromisoformat(value) if value else None


@app.post("/create")
def create():
    data = request.get_json()
    now = datetime.now(UTC)
    vid = str(uuid.uuid4())
    location = data.get("location") or {}
    casualties = data.get("casualties") or {}
    row = {
        "id": vid,
        "title": data["title"],
        "description": data.get("description"),
        "category": data["category"],
        "occurred_at": _dt(data["occurred_at"]),
        "occurred_until": _dt(data.get("occurred_until")),
        "date_precision": data.get("date_precision", "exact"),
        "agreement_id": data.get("agreement"),
        "provisions": data.get("provisions", []),
        "attributed_party_id": data.get("attributed_party"),
        "tags": data.get("tags", []),
        "status": "reported",
        "claim_count": len(data.get("claims", [])),
        "reported_by": "bench-monitors",
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    for key, col in LOCATION.items():
        row[col] = location.get(key)
    for group in ("killed", "injured"):
        for fig in ("low", "best", "high"):
            row[f"{group}_{fig}"] = (casualties.get(group) or {}).get(fig)
    with engine.begin() as conn:
        conn.execute(V.insert(), row)
        if data.get("affected_parties"):
            conn.execute(
                AffectedParty.__table__.insert(),
                [
                    {"violation_id": vid, "party_id": p, "position": i}
                    for i, p in enumerate(data["affected_parties"])
                ],
            )
        for seq, claim in enumerate(data.get("claims", []), start=1):
            cid = str(uuid.uuid4())
            conn.execute(
                Claim.__table__.insert(),
                {
                    "id": cid,
                    "seq": seq,
                    "violation_id": vid,
                    "claimant_id": claim["claimant"],
                    "stance": claim["stance"],
                    "statement": claim["statement"],
                    "language": claim.get("language"),
                    "translations": [],
                    "made_at": _dt(claim.get("made_at")),
                    "asserts": claim.get("asserts", {}),
                    "credibility": claim.get("credibility"),
                    "created_by_org": "bench-monitors",
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                },
            )
            for pos, link in enumerate(claim.get("sources", [])):
                sid = link.get("source_id")
                if link.get("source"):
                    src = link["source"]
                    sid = str(uuid.uuid4())
                    conn.execute(
                        Source.__table__.insert(),
                        {
                            "id": sid,
                            "kind": src["kind"],
                            "title": src.get("title"),
                            "publisher": src.get("publisher"),
                            "published_at": _dt(src.get("published_at")),
                            "language": src.get("language"),
                            "reliability": src.get("reliability"),
                            "confidential": False,
                            "editions": [],
                            "created_by_org": "bench-monitors",
                            "created_at": now,
                            "updated_at": now,
                            "version": 1,
                        },
                    )
                conn.execute(
                    ClaimSource.__table__.insert(),
                    {
                        "claim_id": cid,
                        "position": pos,
                        "source_id": sid,
                        "excerpt": link.get("excerpt"),
                        "locator": link.get("locator"),
                    },
                )
    return Response(json.dumps({"id": vid}), status=201, mimetype="application/json")


@app.get("/healthz")
def healthz():
    return {"ok": True}
