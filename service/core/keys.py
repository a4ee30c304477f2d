"""Organisations and their API keys."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import ApiKey, Organisation, utcnow
from . import audit
from .actors import ROLES, Principal
from .errors import NotFound, ValidationFailed

KEY_PREFIX = "cl_"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # Keys carry 256 bits of randomness, so a plain SHA-256 cannot be brute-forced; a slow
    # password hash would only slow every request.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def ensure_org(session: Session, actor: Principal | None, org_id: str, name: str | None = None):
    org = session.get(Organisation, org_id)
    if org is None:
        org = Organisation(id=org_id, name=name or org_id)
        session.add(org)
        session.flush()
        audit.record(session, actor, "create", "organisation", org_id, {"name": org.name})
    return org


def create(
    session: Session, actor: Principal | None, org_id: str, role: str, label: str | None = None
) -> tuple[ApiKey, str]:
    """Returns the stored row and the key in clear, which is never stored nor shown again."""
    if role not in ROLES:
        raise ValidationFailed({"role": f"must be one of {', '.join(ROLES)}"})
    ensure_org(session, actor, org_id)
    secret = generate_key()
    row = ApiKey(
        org_id=org_id,
        role=role,
        prefix=secret[:10],
        key_hash=hash_key(secret),
        label=label,
        created_by=actor.org if actor else None,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "create", "api_key", row.id, {"org": org_id, "role": role})
    return row, secret


def get(session: Session, key_id: str) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"No key with id '{key_id}'.")
    return row


def revoke(session: Session, actor: Principal, row: ApiKey) -> ApiKey:
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
        audit.record(session, actor, "revoke", "api_key", row.id, {"org": row.org_id})
    return row


def list_(session: Session, *, org: str | None, after: str | None, limit: int) -> list[ApiKey]:
    stmt = select(ApiKey).order_by(ApiKey.id).limit(limit)
    if org:
        stmt = stmt.where(ApiKey.org_id == org)
    if after:
        stmt = stmt.where(ApiKey.id > after)
    return list(session.execute(stmt).scalars())
