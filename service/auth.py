"""API keys: random, shown once, stored as a hash; roles reader < reporter < verifier < admin."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import wraps

from flask import current_app, g, request
from sqlalchemy import select
from sqlalchemy.orm import Session
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


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(session: Session) -> Principal | None:
    """Resolve the caller from the Authorization header; None when no key was given."""
    token = _bearer_token()
    if token is None:
        if request.headers.get("Authorization"):
            raise Unauthorized("Use 'Authorization: Bearer <key>'.")
        return None
    row = lookup(session, token)
    if row is None:
        g.auth_failed = True
        raise Unauthorized("The API key is unknown or revoked.")
    return Principal(org=row.org_id, role=row.role, key_id=row.id)


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
