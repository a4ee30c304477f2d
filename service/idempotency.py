"""Idempotency-Key on POST: same key and body replay the first response; another body is 422;
a retry while the first request still runs is 409. Keys are scoped to the caller's organisation
and kept for 24 hours.

The key is claimed by inserting its row in the request's own transaction, before the work, and
completed in that transaction with the response: the claim, the effect and the stored response
commit together or not at all. While the first request runs, its uncommitted row holds the key's
unique index entry, so on PostgreSQL a retry's insert waits on it; a short lock_timeout turns
that wait into 409. When a worker dies, its connection closes, the transaction rolls back and
the key is free again at once: no claim is ever left behind. On SQLite writers queue for the
database lock instead, so a retry waits and then replays the first answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

from flask import Response, g, request
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from .auth import Principal
from .errors import Conflict, ValidationFailed
from .models import IdempotencyKey, utcnow

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
CLAIM_WAIT = "200ms"
# 1 to 255 visible ASCII characters (U+0021 to U+007E), as the spec's pattern says.
KEY_PATTERN = r"^[!-~]{1,255}$"
_KEY = re.compile(KEY_PATTERN)
REPLAYED_HEADERS = ("Content-Type", "ETag", "Location", "Link")


def _fingerprint() -> str:
    raw = request.get_data(cache=True)
    try:
        data = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
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


def _answer_from(row: IdempotencyKey, fingerprint: str) -> Response:
    if row.fingerprint != fingerprint:
        raise ValidationFailed(
            {f"headers.{HEADER}": "was used before with another request; use a new key"}
        )
    return _replay(row)


def _claim(session: Session, row: IdempotencyKey, *, seen: bool) -> IdempotencyKey | None:
    """Claim the key for this request; answers the stored row instead when it turns out that
    another request has answered under the key meanwhile (then the caller replays it).

    A key never seen is claimed by an INSERT, which conflicts with any other request's claim.
    A key seen before (an expired answer) is taken over only under a row lock and after looking
    again: without the lock, a request that had looked before another one committed its answer
    would overwrite that answer and do the work a second time.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    with session.begin_nested():
        if postgres:
            session.execute(text("SELECT set_config('lock_timeout', :t, true)"), {"t": CLAIM_WAIT})
        current = None
        if seen:
            current = session.execute(
                select(IdempotencyKey)
                .where(IdempotencyKey.org == row.org, IdempotencyKey.key == row.key)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalar_one_or_none()
        if current is None:
            session.add(row)
        elif current.expires_at > row.created_at and current.state == "done":
            return current
        else:
            for field in ("fingerprint", "state", "status", "body", "headers"):
                setattr(current, field, getattr(row, field))
            current.created_at = current.updated_at = row.created_at
            current.expires_at = row.expires_at
        session.flush()
    if postgres:
        session.execute(text("SELECT set_config('lock_timeout', '0', true)"))
    return None


def begin(session: Session, principal: Principal | None) -> Response | None:
    """Before the view: answer from the stored response, or claim the key for this request."""
    key = request.headers.get(HEADER)
    if key is None or request.method != "POST" or principal is None or principal.org is None:
        return None
    if not _KEY.match(key):
        raise ValidationFailed({f"headers.{HEADER}": "must be 1 to 255 visible ASCII characters"})
    fingerprint = _fingerprint()
    now = utcnow()
    row = session.get(IdempotencyKey, (principal.org, key))
    if row is not None and row.expires_at > now and row.state == "done":
        return _answer_from(row, fingerprint)
    claim = IdempotencyKey(
        org=principal.org,
        key=key,
        fingerprint=fingerprint,
        state="in_progress",
        headers={},
        created_at=now,
        updated_at=now,
        expires_at=now + TTL,
    )
    try:
        answered = _claim(session, claim, seen=row is not None)
    except IntegrityError:
        # Another request with this key committed while we looked: its answer is ours.
        session.rollback()
        row = session.get(IdempotencyKey, (principal.org, key), populate_existing=True)
        if row is not None and row.state == "done":
            return _answer_from(row, fingerprint)
        raise Conflict(
            "A request with this Idempotency-Key is being processed; retry shortly.", retry_after=1
        ) from None
    except OperationalError as exc:
        if "lock timeout" not in str(exc.orig).lower():
            raise
        session.rollback()
        raise Conflict(
            "A request with this Idempotency-Key is being processed; retry shortly.", retry_after=1
        ) from None
    if answered is not None:
        return _answer_from(answered, fingerprint)
    g.idempotency = (principal.org, key, fingerprint)
    return None


def _stored(response: Response) -> dict:
    return {
        "state": "done",
        "status": response.status_code,
        "body": response.get_data(as_text=True),
        "headers": {h: response.headers[h] for h in REPLAYED_HEADERS if h in response.headers},
        "updated_at": utcnow(),
    }


def complete(session: Session, response: Response) -> None:
    """A successful response is stored in the transaction of its effect, before the commit."""
    claimed = g.get("idempotency")
    if claimed is None:
        return
    row = session.get(IdempotencyKey, claimed[:2])
    if row is not None:
        for field, value in _stored(response).items():
            setattr(row, field, value)


def failed(session: Session, response: Response | None) -> None:
    """The effect was rolled back, and the claim with it. A client error is final, so it is
    stored to be replayed; after a server error the key stays free for the client's retry."""
    claimed = g.pop("idempotency", None)
    if claimed is None or response is None or not 400 <= response.status_code < 500:
        return
    org, key, fingerprint = claimed
    now = utcnow()
    stored = {"fingerprint": fingerprint, "created_at": now, "expires_at": now + TTL}
    stored.update(_stored(response))
    try:
        # An INSERT, never an overwrite: another request may have answered under the key since
        # this one's claim was rolled back, and that answer stands.
        session.add(IdempotencyKey(org=org, key=key, **stored))
        session.commit()
    except Exception:  # another request took the key meanwhile, or the database is in trouble
        session.rollback()
    else:
        return
    try:
        # The key's row may be an expired answer, which this one replaces.
        table = IdempotencyKey.__table__
        session.execute(
            update(table)
            .where(table.c.org == org, table.c.key == key, table.c.expires_at <= now)
            .values(**stored)
        )
        session.commit()
    except Exception:
        session.rollback()
