"""Idempotency-Key on POST: same key and body replay the first response; another body is 422;
a retry while the first request still runs is 409. Keys are scoped to the caller's organisation
and kept for 24 hours."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta

from flask import Response, g, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .auth import Principal
from .errors import Conflict, ValidationFailed
from .models import IdempotencyKey, utcnow

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
# Longer than a worker may run one request (gunicorn timeout): a claim this old was abandoned
# by a killed worker, and a retry may take it over.
ABANDONED_AFTER = timedelta(seconds=150)
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
REPLAYED_HEADERS = ("Content-Type", "ETag", "Location", "Link")


@dataclass(frozen=True)
class Claimed:
    org: str
    key: str


def _fingerprint() -> str:
    raw = request.get_data(cache=True)
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"))
        data = canonical.encode("utf-8")
    except ValueError:
        data = raw
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b" " + request.path.encode() + b"\n")
    digest.update(data)
    return digest.hexdigest()


def _replay(row: IdempotencyKey) -> Response:
    resp = Response(row.body or "", status=row.status)
    for name, value in (row.headers or {}).items():
        resp.headers[name] = value
    resp.headers["Idempotent-Replayed"] = "true"
    return resp


def begin(session: Session, principal: Principal | None) -> Response | None:
    """Before the view: claim the key, or answer from the stored response."""
    key = request.headers.get(HEADER)
    if key is None or request.method != "POST" or principal is None or principal.org is None:
        return None
    if not _KEY.match(key):
        raise ValidationFailed({f"headers.{HEADER}": "must be 1 to 255 visible ASCII characters"})
    fingerprint = _fingerprint()
    for _attempt in range(2):
        now = utcnow()
        row = session.get(IdempotencyKey, (principal.org, key), with_for_update=True)
        if row is not None and row.expires_at > now and row.state != "released":
            if row.fingerprint != fingerprint:
                session.rollback()
                raise ValidationFailed(
                    {f"headers.{HEADER}": "was used before with another request; use a new key"}
                )
            if row.state == "done":
                session.rollback()
                return _replay(row)
            if now - row.updated_at < ABANDONED_AFTER:
                session.rollback()
                raise Conflict(
                    "A request with this Idempotency-Key is still being processed; retry shortly.",
                    retry_after=1,
                )
        if row is None:
            row = IdempotencyKey(org=principal.org, key=key)
            session.add(row)
        row.fingerprint = fingerprint
        row.state = "in_progress"
        row.status = row.body = None
        row.headers = {}
        row.created_at = row.updated_at = now
        row.expires_at = now + TTL
        try:
            # Committed at once, alone: a concurrent retry must see the claim while we work.
            session.commit()
        except IntegrityError:
            session.rollback()  # another request claimed it first: read its claim
            continue
        g.idempotency = Claimed(principal.org, key)
        return None
    raise Conflict("A request with this Idempotency-Key is still being processed.", retry_after=1)


def _store(session: Session, claimed: Claimed, response: Response) -> None:
    row = session.get(IdempotencyKey, (claimed.org, claimed.key))
    if row is None:
        return
    row.state = "done"
    row.status = response.status_code
    row.body = response.get_data(as_text=True)
    row.headers = {h: response.headers[h] for h in REPLAYED_HEADERS if h in response.headers}
    row.updated_at = utcnow()


def complete(session: Session, response: Response) -> None:
    """Successful response: stored in the same transaction as the effect, before its commit."""
    claimed = g.pop("idempotency", None)
    if claimed is not None:
        _store(session, claimed, response)
        g.idempotency_pending = claimed


def failed(session: Session, response: Response | None) -> None:
    """The effect was rolled back. A client error is final and replayed; a server error or a
    failed commit releases the key so the client's retry runs again."""
    claimed = g.pop("idempotency", None) or g.pop("idempotency_pending", None)
    if claimed is None:
        return
    try:
        if response is not None and 400 <= response.status_code < 500:
            _store(session, claimed, response)
        else:
            row = session.get(IdempotencyKey, (claimed.org, claimed.key))
            if row is not None:
                row.state = "released"
                row.updated_at = utcnow()
        session.commit()
    except Exception:  # the database is in trouble: the claim will be taken over when stale
        session.rollback()
