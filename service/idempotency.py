"""Idempotency-Key on POST: same key and body replay the first response; another body is 422;
a retry while the first request still runs is 409. Keys are kept for 24 hours.

A key belongs to the API key that sent it, and is looked at only after the route's role check
(resources.access.requires): no other key, of the same organisation or not, can replay an
answer, and a caller whose role does not allow the request never gets one. Only successful
answers are stored; a refused request (4xx) is not, so the same key can be sent again once the
cause is fixed. An answer is stored encrypted (AES-GCM) under a key derived from the caller's
API key, which the service never stores: whoever reads the table learns nothing of it. An
answer that carries a secret (a new API key) is never stored at all: a retry gets 409 naming
what was created.

The key is claimed by inserting its row in the request's own transaction, before the work, and
completed in that transaction with the response: the claim, the effect and the stored response
commit together or not at all. While the first request runs, its uncommitted row holds the key's
unique index entry, so on PostgreSQL a retry's insert waits on it; a short lock_timeout turns
that wait into 409. When a worker dies, its connection closes, the transaction rolls back and
the key is free again at once: no claim is ever left behind. On SQLite writers queue for the
database lock instead, so a retry waits and then replays the first answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from datetime import timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Response, g, request
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from .auth import bearer_token
from .core import disclosure
from .core.actors import Principal
from .errors import Conflict, ValidationFailed
from .models import IdempotencyKey, utcnow

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
CLAIM_WAIT = "200ms"
# 1 to 255 visible ASCII characters (U+0021 to U+007E), as the spec's pattern says.
KEY_PATTERN = r"^[!-~]{1,255}$"
_KEY = re.compile(KEY_PATTERN)
REPLAYED_HEADERS = ("Content-Type", "ETag", "Location", "Link")
_CIPHER_CONTEXT = b"ceasefire-ledger idempotent answers v1"
_WITHHELD = "idempotency_withheld"


def _cipher() -> AESGCM:
    """AES-256-GCM under a key derived from the caller's API key (256 random bits)."""
    token = bearer_token() or ""
    return AESGCM(hmac.new(token.encode("utf-8"), _CIPHER_CONTEXT, hashlib.sha256).digest())


def _context(row: IdempotencyKey) -> bytes:
    return f"{row.api_key_id}\n{row.key}\n{row.status}".encode()


def _encrypt(row: IdempotencyKey, body: str) -> str:
    nonce = os.urandom(12)
    sealed = _cipher().encrypt(nonce, body.encode("utf-8"), _context(row))
    return base64.b64encode(nonce + sealed).decode("ascii")


def _decrypt(row: IdempotencyKey) -> str:
    raw = base64.b64decode(row.body or "")
    return _cipher().decrypt(raw[:12], raw[12:], _context(row)).decode("utf-8")


def withhold(created_id: str) -> None:
    """The answer of this request carries a secret: it is not stored, and a retry gets 409
    naming `created_id` instead of the secret again."""
    setattr(g, _WITHHELD, created_id)


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
    if row.withheld_id is not None:
        raise Conflict(
            f"This request created '{row.withheld_id}' already. Keys are shown once: revoke it "
            "and create another.",
            created_id=row.withheld_id,
        )
    try:
        body = _decrypt(row) if row.body else ""
    except (InvalidTag, ValueError):
        # Not this caller's answer after all (it cannot be: the row is the key's own).
        raise Conflict("The stored answer for this Idempotency-Key cannot be read.") from None
    resp = Response(body, status=row.status)
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
                .where(IdempotencyKey.api_key_id == row.api_key_id, IdempotencyKey.key == row.key)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalar_one_or_none()
        if current is None:
            session.add(row)
        elif current.expires_at > row.created_at and current.state == "done":
            return current
        else:
            for field in (
                "fingerprint",
                "state",
                "status",
                "body",
                "headers",
                "withheld_id",
                "disclosed",
            ):
                setattr(current, field, getattr(row, field))
            current.created_at = current.updated_at = row.created_at
            current.expires_at = row.expires_at
        session.flush()
    if postgres:
        session.execute(text("SELECT set_config('lock_timeout', '0', true)"))
    return None


def begin(session: Session, principal: Principal | None) -> Response | None:
    """After the role check, before the view: answer from the stored response, or claim the
    key for this request."""
    key = request.headers.get(HEADER)
    if key is None or request.method != "POST" or principal is None or principal.key_id is None:
        return None
    if not _KEY.match(key):
        raise ValidationFailed({f"headers.{HEADER}": "must be 1 to 255 visible ASCII characters"})
    fingerprint = _fingerprint()
    now = utcnow()
    row = session.get(IdempotencyKey, (principal.key_id, key))
    if row is not None and row.expires_at > now and row.state == "done":
        return _answer_from(row, fingerprint)
    claim = IdempotencyKey(
        api_key_id=principal.key_id,
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
        row = session.get(IdempotencyKey, (principal.key_id, key), populate_existing=True)
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
    g.idempotency = (principal.key_id, key, fingerprint)
    return None


def complete(session: Session, response: Response) -> None:
    """A successful response is stored in the transaction of its effect, before the commit:
    encrypted, or, when it carries a secret, as the id of what was created alone."""
    claimed = g.get("idempotency")
    if claimed is None:
        return
    row = session.get(IdempotencyKey, claimed[:2])
    if row is None:
        return
    row.state = "done"
    row.status = response.status_code
    row.updated_at = utcnow()
    withheld = g.get(_WITHHELD)
    if withheld is not None:
        row.withheld_id = withheld
        row.body = None
        row.headers = {}
        return
    row.headers = {h: response.headers[h] for h in REPLAYED_HEADERS if h in response.headers}
    row.body = _encrypt(row, response.get_data(as_text=True))
    shown = disclosure.disclosed_in_request()
    row.disclosed = "|" + "|".join(sorted(shown)) + "|" if shown else None


def failed(session: Session, response: Response | None) -> None:
    """The effect was rolled back, and the claim with it: nothing is stored, so the same key
    can be sent again (a refused request may succeed once its cause is fixed)."""
    g.pop("idempotency", None)
