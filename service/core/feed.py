"""The change feed: every write, in commit order."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from ..models import (
    AuditEntry,
)


def changes_after(session: Session, after: int, limit: int) -> list[Any]:
    """Audit entries with seq > after, in seq order.

    That is enough never to miss an entry. audit.record() takes the audit_head row FOR UPDATE
    and numbers its entry head.seq + 1; the lock is held until the writer commits or rolls
    back. So the writer holding seq N+1 can only start after the writer of N has finished:
    numbers are handed out in commit order, and a rolled-back number is handed out again.
    Whatever a reader sees is therefore a gapless prefix 1..M of the final log, and no entry
    with seq <= M can appear later. (A plain sequence would not do: numbers are taken before
    commit, so N+1 could commit, and be polled past, while N is still in flight.)
    """
    stmt = (
        select(
            AuditEntry.seq,
            AuditEntry.at,
            AuditEntry.action,
            AuditEntry.entity,
            AuditEntry.entity_id,
            AuditEntry.violation_id,
            AuditEntry.actor_org,
        )
        .where(AuditEntry.seq > after)
        .order_by(AuditEntry.seq)
        .limit(limit)
    )
    return list(session.execute(stmt))
