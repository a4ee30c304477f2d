"""API keys: random, shown once, stored as a hash; roles reader < reporter < verifier < admin."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import weakref
from dataclasses import dataclass
from functools import wraps

from flask import current_app, g, request
from sqlalchemy import event, select
from sqlalchemy.orm import Session, object_session
from werkzeug.exceptions import Forbidden, Unauthorized

from .models import ApiKey

ROLES = ("reader", "reporter", "verifier", "admin")
ROLE_RANK = {role: i for i, role in enumerate(ROLES)}
KEY_PREFIX = "cl_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: an organisation with a role, or an anonymous public reader."""

    org: str | None
    role: str
    key_id: str | None

    def at_least(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    @property
    def anonymous(self) -> bool:
        return self.key_id is None

    def can_edit(self, owner_org: str | None) -> bool:
        """Reporters and verifiers edit what their organisation created; admins edit anything."""
        if self.role == "admin":
            return True
        return self.at_least("reporter") and owner_org is not None and owner_org == self.org


ANONYMOUS = Principal(org=None, role="reader", key_id=None)


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # Keys carry 256 bits of randomness, so a plain SHA-256 cannot be brute-forced; a slow
    # password hash would only slow every request.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def lookup(session: Session, key: str) -> ApiKey | None:
    digest = hash_key(key)
    row = session.execute(select(ApiKey).where(ApiKey.key_hash == digest)).scalar_one_or_none()
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        return None
    if row.revoked_at is not None:
        return None
    return row


class KeyCache:
    """Keys recently found valid, per process, for at most `seconds` each.

    The look-up was a query per request, most of them for the same few keys. The cost of the
    cache is a bound on revocation: a revoked key is refused at once by the process that
    revoked it (the cache drops it when the revocation is written and again at its commit)
    and by every other process or instance within `seconds` (AUTH_CACHE_SECONDS, default 5;
    0 turns the cache off). Unknown and revoked keys are never cached, and the cache holds
    digests and principals, never keys.
    """

    MAX_ENTRIES = 1024

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()
        _caches.add(self)

    def get(self, digest: str) -> Principal | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            self.drop(digest)
            return None
        return entry[1]

    def put(self, digest: str, principal: Principal) -> None:
        if self.seconds <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = (time.monotonic() + self.seconds, principal)

    def drop(self, digest: str) -> None:
        with self._lock:
            self._entries.pop(digest, None)


_caches: weakref.WeakSet[KeyCache] = weakref.WeakSet()
_DROPPED = "ledger.keys_changed"


def _forget(digests) -> None:
    for cache in list(_caches):
        for digest in digests:
            cache.drop(digest)


@event.listens_for(ApiKey, "after_update")
@event.listens_for(ApiKey, "after_delete")
def _key_changed(_mapper, _connection, target: ApiKey) -> None:
    # At the flush; and again after the commit (below), since a request of this process could
    # cache the row as it still stands for others between the two.
    _forget([target.key_hash])
    session = object_session(target)
    if session is not None:
        session.info.setdefault(_DROPPED, set()).add(target.key_hash)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    digests = session.info.pop(_DROPPED, None)
    if digests:
        _forget(digests)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous) -> None:
    session.info.pop(_DROPPED, None)


def key_cache() -> KeyCache:
    cache = current_app.extensions.get("ledger.key_cache")
    if cache is None:
        seconds = float(current_app.config.get("AUTH_CACHE_SECONDS", 5))
        cache = current_app.extensions["ledger.key_cache"] = KeyCache(seconds)
    return cache


def bearer_token() -> str | None:
    """The API key the request carries, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(session: Session) -> Principal | None:
    """Resolve the caller from the Authorization header; None when no key was given."""
    token = bearer_token()
    if token is None:
        if request.headers.get("Authorization"):
            raise Unauthorized("Use 'Authorization: Bearer <key>'.")
        return None
    cache = key_cache()
    digest = hash_key(token)
    principal = cache.get(digest)
    if principal is not None:
        return principal
    row = lookup(session, token)
    if row is None:
        g.auth_failed = True
        raise Unauthorized("The API key is unknown or revoked.")
    principal = Principal(org=row.org_id, role=row.role, key_id=row.id)
    cache.put(digest, principal)
    return principal


def current_principal() -> Principal:
    principal = getattr(g, "principal", None)
    if principal is None:
        raise Unauthorized("This request needs 'Authorization: Bearer <key>'.")
    return principal


def require(role: str):
    """View decorator: the caller needs at least `role`; reads may be public when configured."""

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            principal = getattr(g, "principal", None)
            if principal is None:
                if role == "reader" and current_app.config.get("PUBLIC_READS"):
                    g.principal = ANONYMOUS
                else:
                    raise Unauthorized("This request needs 'Authorization: Bearer <key>'.")
            elif not g.principal.at_least(role):
                raise Forbidden(f"This needs the {role} role; your key has {g.principal.role}.")
            return func(*args, **kwargs)

        wrapper._required_role = role
        return wrapper

    return decorator
