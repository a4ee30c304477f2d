"""The append-only, hash-chained audit log; also the source of the change feed and histories."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from ..models import AuditCheckpoint, AuditEntry, AuditHead, SealedValue, utcnow
from . import disclosure, rows
from .actors import Principal

GENESIS_HASH = "0" * 64


def entry_hash(entry: AuditEntry) -> str:
    return hash_of(
        {
            "seq": entry.seq,
            "at": entry.at,
            "actor_org": entry.actor_org,
            "actor_key": entry.actor_key,
            "action": entry.action,
            "entity": entry.entity,
            "entity_id": entry.entity_id,
            "violation_id": entry.violation_id,
            "changes": entry.changes,
            "prev_hash": entry.prev_hash,
        }
    )


# The hash's own canonical text, strict: only JSON values (an entry's changes are encoded
# before, with their times, by disclosure.canonical). Made once, as json.dumps would make it
# again at every call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _js(value: Any) -> str:
    return _CANONICAL.encode(value)


class Changes(rows.EncodedJSON):
    """An entry's `changes` as JSON gives them back, with their canonical text (sorted keys,
    compact, not ASCII-escaped) made once: the entry's hash embeds that text, and PostgreSQL
    stores it (core.bulk), instead of the value being encoded again for each."""

    __slots__ = ("sealed",)

    @classmethod
    def of(cls, changes: dict[str, Any], entity: str = "", entity_id: str = "") -> Changes:
        """The changes of an entry about `entity`, with the values the disclosure policy seals
        replaced by their commitments; `sealed` holds the rows of sealed_values that keep
        them, to be written with the entry."""
        sealed: list[dict[str, Any]] = []
        if entity in disclosure.SEALED_NAMES:
            changes, sealed = disclosure.seal(entity, entity_id, changes)
        text = disclosure.canonical(changes)
        plain = json.loads(text)
        made = cls(plain)
        made.text = text
        made.sealed = sealed
        return made


def hash_of(row: dict[str, Any]) -> str:
    """The hash of one entry given as its column values (`changes` already JSON-able)."""
    changes = row["changes"]
    if isinstance(changes, Changes):
        # The canonical text of the payload below, built around the text made once.
        canonical = (
            f'{{"action":{_js(row["action"])},"actor_key":{_js(row["actor_key"])},'
            f'"actor_org":{_js(row["actor_org"])},'
            f'"at":"{row["at"].isoformat(timespec="microseconds")}","changes":{changes.text},'
            f'"entity":{_js(row["entity"])},"entity_id":{_js(row["entity_id"])},'
            f'"prev_hash":{_js(row["prev_hash"])},"seq":{_js(row["seq"])},'
            f'"violation_id":{_js(row["violation_id"])}}}'
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    payload = {
        "seq": row["seq"],
        "at": row["at"].isoformat(timespec="microseconds"),
        "actor_org": row["actor_org"],
        "actor_key": row["actor_key"],
        "action": row["action"],
        "entity": row["entity"],
        "entity_id": row["entity_id"],
        "violation_id": row["violation_id"],
        "changes": row["changes"],
        "prev_hash": row["prev_hash"],
    }
    return hashlib.sha256(_js(payload).encode("utf-8")).hexdigest()


def new_row(
    actor: Principal | None,
    action: str,
    entity: str,
    entity_id: str,
    changes: dict[str, Any] | None = None,
    violation_id: str | None = None,
) -> dict[str, Any]:
    """An entry's column values before it is chained (seq, prev_hash and hash come later)."""
    return {
        "at": utcnow(),
        "actor_org": actor.org if actor else None,
        "actor_key": actor.key_id if actor else None,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "violation_id": violation_id,
        "changes": Changes.of(changes or {}, entity, entity_id),
    }


@dataclass
class Head:
    """The chain head's values, read under its row lock (see head_values)."""

    id: int
    seq: int
    hash: str


def head_values(session: Session) -> Head:
    """The head, locked here (FOR UPDATE) until the end of the transaction and read as plain
    values: cheaper than loading the mapped object (write_with moves it)."""
    table = AuditHead.__table__
    row = session.execute(
        select(table.c.id, table.c.seq, table.c.hash).where(table.c.id == 1).with_for_update()
    ).one()
    return Head(row.id, row.seq, row.hash)


def chain(head: Head, rows: list[dict[str, Any]]) -> tuple[int, str]:
    """Number and hash `rows` in order after the locked head; answers the new (seq, hash).

    The head itself is left as it is: the caller writes the rows and then moves the head
    (see write_with), so that nothing changes when the write fails.
    """
    seq, prev = head.seq, head.hash
    for row in rows:
        seq += 1
        row["seq"] = seq
        row["prev_hash"] = prev
        row["hash"] = prev = hash_of(row)
    return seq, prev


def _follow(session: Session, head: Head, seq: int, hash_: str) -> None:
    """A head object the ORM has loaded in this session follows the row, which was moved by a
    Core UPDATE (write_with), without becoming dirty."""
    loaded = session.identity_map.get(identity_key(AuditHead, head.id))
    if loaded is not None:
        set_committed_value(loaded, "seq", seq)
        set_committed_value(loaded, "hash", hash_)


def record(
    session: Session,
    actor: Principal | None,
    action: str,
    entity: str,
    entity_id: str,
    changes: dict[str, Any] | None = None,
    violation_id: str | None = None,
) -> None:
    """Append one entry to the log in the caller's transaction (see append)."""
    append(session, [new_row(actor, action, entity, entity_id, changes, violation_id)])


def sealed_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sealed values of entries built by new_row, to be written with them."""
    return [value for row in rows for value in getattr(row["changes"], "sealed", ())]


# --- Appending: where entries wait, and the one place they are chained and written ---------

_PENDING = "audit.pending"


def can_wait(session: Session) -> bool:
    """Entries can wait for the commit only outside any SAVEPOINT: one rolled back later would
    leave entries for rows that are gone."""
    return not session.in_nested_transaction()


def append(session: Session, entries: list[dict[str, Any]]) -> None:
    """Append entries built by new_row, in order after those appended before.

    Outside any SAVEPOINT they wait for the commit point (write_pending, which service.db
    calls just before it commits): the chain head is then locked only from there to the
    commit, and concurrent writers wait on each other only for that. Inside one they are
    written now, after whatever was waiting.
    """
    if not entries:
        return
    if can_wait(session):
        session.info.setdefault(_PENDING, []).extend(entries)
    else:
        write_pending(session, entries)


def write_pending(
    session: Session, more: list[dict[str, Any]] | None = None, data: rows.Work = ()
) -> None:
    """Write the rows of `data`, then chain the waiting entries and `more` after the locked
    head and write them."""
    entries = session.info.pop(_PENDING, None) or []
    entries.extend(more or ())
    write_with(session, list(data), entries)


def has_pending(session: Session) -> bool:
    return bool(session.info.get(_PENDING))


def write_with(session: Session, data: rows.Work, entries: list[dict[str, Any]]) -> None:
    """Rows of each (table, rows) of `data` in order; then `entries` chained after the locked
    head, their sealed values, and the head moved past them, on PostgreSQL all in the same
    round trips as the rows."""
    if not entries:
        rows.write(session, data)
        return
    head = head_values(session)
    seq, last_hash = chain(head, entries)
    work = [*data, (AuditEntry.__table__, entries), (SealedValue.__table__, sealed_rows(entries))]
    work.append(
        (AuditHead.__table__, [{"head_id": head.id, "head_seq": seq, "head_hash": last_hash}])
    )
    rows.write(session, work)
    _follow(session, head, seq, last_hash)


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction) -> None:
    if transaction.parent is None:  # committed (written before) or rolled back: nothing stays
        session.info.pop(_PENDING, None)


def verify(session: Session, *, full: bool = False, batch: int = 5000) -> dict[str, Any]:
    """Recompute the chain and name the first entry that does not match.

    From the last checkpoint on (a prefix verified before, kept in audit_checkpoints), or,
    with `full`, from the first entry. The entry at the checkpoint must still carry the hash
    the checkpoint recorded, so a rewrite of the prefix that moved the chain is still seen;
    `full` re-hashes the prefix itself too. Sealed values are checked against the commitments
    of the entries re-hashed (all of them with `full`). A successful check that reached past
    the checkpoint may be recorded (record_checkpoint) by the caller.
    """
    checkpoint = None if full else latest_checkpoint(session)
    prev, last_seq = GENESIS_HASH, 0
    if checkpoint is not None:
        at = (
            session.execute(select(AuditEntry.__table__).where(AuditEntry.seq == checkpoint.seq))
            .mappings()
            .one_or_none()
        )
        if at is None or at["hash"] != checkpoint.hash or hash_of(at) != checkpoint.hash:
            return {
                "ok": False,
                "entries": 0,
                "from_seq": checkpoint.seq,
                "head": checkpoint.hash,
                "first_bad_seq": checkpoint.seq,
                "reason": "the entry at the last verified checkpoint has changed",
            }
        prev, last_seq = checkpoint.hash, checkpoint.seq
    start = last_seq
    count = 0
    commitments: set[str] = set()
    table = AuditEntry.__table__
    stmt = (
        select(table)
        .where(table.c.seq > last_seq)
        .order_by(table.c.seq)
        .execution_options(yield_per=batch)
    )
    for row in session.execute(stmt).mappings():
        count += 1
        problem = None
        if row["seq"] != last_seq + 1:
            problem = f"sequence gap: expected {last_seq + 1}, found {row['seq']}"
        elif row["prev_hash"] != prev:
            problem = "prev_hash does not match the hash of the entry before it"
        elif hash_of(row) != row["hash"]:
            problem = "content does not match its hash"
        if problem:
            return {
                "ok": False,
                "entries": count,
                "from_seq": start,
                "head": prev,
                "first_bad_seq": row["seq"],
                "reason": problem,
            }
        if not full:
            disclosure.commitments_in(row["changes"], commitments)
        prev = row["hash"]
        last_seq = row["seq"]
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != last_seq or head.hash != prev):
        return {
            "ok": False,
            "entries": count,
            "from_seq": start,
            "head": prev,
            "first_bad_seq": last_seq + 1,
            "reason": "the chain head does not match the last entry (entries removed?)",
        }
    sealed = 0
    stmt = select(SealedValue).order_by(SealedValue.commitment)
    chunks = [None] if full else [c for c in _chunks(sorted(commitments), 500)]
    for chunk in chunks:
        where = stmt if chunk is None else stmt.where(SealedValue.commitment.in_(chunk))
        for value in session.execute(where.execution_options(yield_per=batch)).scalars():
            sealed += 1
            if disclosure.commitment(value.salt, value.value) != value.commitment:
                return {
                    "ok": False,
                    "entries": count,
                    "from_seq": start,
                    "sealed": sealed,
                    "head": prev,
                    "reason": f"sealed value {value.commitment} does not match its commitment",
                }
            session.expunge(value)
    return {"ok": True, "entries": count, "from_seq": start, "sealed": sealed, "head": prev}


def record_checkpoint(session: Session, seq: int, hash_: str) -> None:
    """Remember that the chain up to `seq` verified, ending in `hash_`."""
    if session.get(AuditCheckpoint, seq) is None:
        session.add(AuditCheckpoint(seq=seq, hash=hash_, verified_at=utcnow()))


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    return session.execute(
        select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(1)
    ).scalar_one_or_none()


def _chunks(values: list[str], size: int):
    for start in range(0, len(values), size):
        yield values[start : start + size]
