"""Engine, per-request session and the SQLite settings that make it a safe embedded store."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, has_app_context
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from .core import audit
from .core.common import SCRUB_AFTER_COMMIT

# Set for requests that will write. On SQLite such a transaction starts with BEGIN IMMEDIATE so
# that two writers serialise at the start instead of one failing when it upgrades its read lock.
write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=False)

# session.info flag: the session's statements commit themselves (autocommit_reads).
AUTOCOMMIT = "ledger.autocommit"

_engine: Engine | None = None
_factory: sessionmaker[Session] | None = None


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str) -> Engine:
    # hide_parameters: a database error is logged with its SQL, and its bound values would carry
    # request bodies (claim statements, source identities) into the logs.
    if is_sqlite(url):
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_pre_ping=True,
            hide_parameters=True,
        )
        _configure_sqlite(engine)
        return engine
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=10,
        connect_args={"connect_timeout": 5},
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Float texts that read back exactly, as Python's repr: the server's default since
        # PostgreSQL 12, made sure of, since the list items' JSON relies on it (core.query).
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        dbapi_conn.execute("SET extra_float_digits = 1")
        dbapi_conn.autocommit = autocommit

    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Take transaction control from the driver so BEGIN is emitted by us (see "begin" below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit that returned is on disk even after a power cut.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        # What is deleted or overwritten is zeroed in the file, so that an erasure leaves no
        # copy of the values it destroyed in free pages (core.sources.erase).
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


def init_engine(url: str) -> tuple[Engine, sessionmaker[Session]]:
    """Make an engine and session factory; the newest is also the default outside an app."""
    global _engine, _factory
    _engine = make_engine(url)
    _factory = sessionmaker(bind=_engine, expire_on_commit=False, autoflush=True)
    return _engine, _factory


def _bound() -> tuple[Engine, sessionmaker[Session]]:
    # Each app keeps its own engine, so two apps in one process (tests) never share one.
    if has_app_context():
        bound = current_app.extensions.get("ledger.db")
        if bound is not None:
            return bound
    if _engine is None or _factory is None:
        raise RuntimeError("database engine is not initialised")
    return _engine, _factory


def get_engine() -> Engine:
    return _bound()[0]


def new_session() -> Session:
    return _bound()[1]()


def autocommit_reads(session: Session) -> None:
    """Run a read-only request's statement without BEGIN and COMMIT (PostgreSQL only).

    For a request that reads with a single statement, a transaction around it changes
    nothing (the statement sees one snapshot either way, at any isolation level) and costs
    two round trips. Call it before the request's first statement; a session that has begun
    a transaction already (the key look-up did, on a key-cache miss) keeps it. SQLAlchemy
    restores the connection's isolation level when it goes back to the pool. Never for a
    request that writes, nor one that streams from a server-side cursor (which needs a
    transaction).
    """
    if session.in_transaction():
        return
    if session.get_bind().dialect.name != "postgresql":
        return
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    session.info[AUTOCOMMIT] = True


def self_committed(session: Session) -> bool:
    """True for a session of autocommit_reads with nothing left to write (nor to lose)."""
    return bool(session.info.get(AUTOCOMMIT)) and not (
        session.new or session.dirty or session.deleted
    )


def dispose_engine() -> None:
    """Drop pooled connections; gunicorn calls this after fork so workers never share sockets."""
    if _engine is not None:
        _engine.dispose(close=False)


def commit(session: Session) -> None:
    """The commit point of a request or a unit of work: the audit entries of its writes are
    chained and written here (core.audit.append lets them wait for it), then it commits."""
    audit.write_pending(session)
    session.commit()


@event.listens_for(Session, "before_commit")
def _nothing_left_pending(session: Session) -> None:
    # A commit past entries still waiting would lose them: every commit goes through commit().
    if not session.in_nested_transaction() and audit.has_pending(session):
        raise RuntimeError("audit entries are waiting: commit through service.db.commit")


@contextmanager
def session_scope(write: bool = True) -> Iterator[Session]:
    """A unit of work outside a request (CLI, seeds): commit on success, roll back on error."""
    token = write_intent.set(write)
    session = new_session()
    try:
        yield session
        commit(session)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        write_intent.reset(token)


_SCRUB = SCRUB_AFTER_COMMIT  # set by core.common.scrub_after_commit


@event.listens_for(Session, "after_commit")
def _scrub(session: Session) -> None:
    """After a commit that asked for it (core.common.scrub_after_commit), copy SQLite's
    write-ahead log into the file and empty it, so that values an erasure overwrote stay in
    neither (secure_delete zeroes them in the file itself). PostgreSQL removes them from the
    live tables at once; dead tuples, WAL and backups are the DBA's (README)."""
    if not session.info.pop(_SCRUB, False):
        return
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return
    raw = bind.raw_connection()  # outside any transaction: a checkpoint needs that
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.close()
    finally:
        raw.close()


@event.listens_for(Session, "after_transaction_end")
def _no_scrub(session: Session, transaction) -> None:
    if transaction.parent is None:  # committed (scrubbed above) or rolled back
        session.info.pop(_SCRUB, None)
