"""Rows written with one statement per table: INSERT ... executemany, or on PostgreSQL one
pipeline (one round trip) for the small tables and COPY for the large ones.

The writer of everything new (core.bulk) and of the audit log's entries (core.audit) hands
its rows here as (table, rows) pairs in foreign-key order. A refusal by the database is raised
as the SQLAlchemy exception an INSERT's would be, so the caller's SAVEPOINT undoes it all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Connection, Table, bindparam, insert, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..models import AuditHead

# From this many rows a table goes by COPY on PostgreSQL: COPY pays an extra round trip and
# cannot join a pipeline; it wins from a few dozen rows on.
COPY_FROM = 32

Work = list[tuple[Table, list[dict[str, Any]]]]


class EncodedJSON(dict):
    """A JSON value with its text made already (see core.audit.Changes): sent as that text."""

    __slots__ = ("text",)


def write(session: Session, work: Work) -> None:
    """Each (table, rows) of `work`, in order, on the session's connection and transaction.

    A row of AuditHead's table is an UPDATE of the chain head ({"head_id", "head_seq",
    "head_hash"}), sent in the same pipeline as the rows before it."""
    work = [(table, values) for table, values in work if values]
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        for table, values in work:
            if table is AuditHead.__table__:
                [row] = values
                connection.execute(
                    update(table)
                    .where(table.c.id == row["head_id"])
                    .values(seq=row["head_seq"], hash=row["head_hash"])
                )
            else:
                connection.execute(insert(table), values)
        return
    pending: Work = []
    for table, values in work:
        if len(values) >= COPY_FROM and table is not AuditHead.__table__:
            # What is pending goes first: the foreign keys need that order.
            _pipeline(connection, pending)
            pending = []
            _copy(connection, table, values)
        else:
            pending.append((table, values))
    _pipeline(connection, pending)


def _raise_as_sqlalchemy(exc, statement: str, connection: Connection, raw):
    """The same exception class SQLAlchemy raises for this error on an INSERT (a constraint:
    IntegrityError; a lost connection: OperationalError, which the API answers with 503).

    A lost connection is also invalidated, as SQLAlchemy does for its own statements: the
    session's rollback then lets go of it instead of trying the dead connection and failing
    (which turned the 503 into a 500), and the pool opens a new one.
    """
    import psycopg

    lost = connection.dialect.is_disconnect(exc, raw, None)
    if lost:
        connection.invalidate(exc)
    raise DBAPIError.instance(
        statement, None, exc, psycopg.Error, connection_invalidated=lost
    ) from exc


_PROCESSORS: dict[tuple[str, str, tuple[str, ...]], list] = {}


def _processed(table: Table, columns: list[str], dialect):
    """(column, bind processor or None) pairs: values are sent as SQLAlchemy would send them,
    except JSON values whose text is made already (EncodedJSON), sent as that text."""
    key = (dialect.name, table.name, tuple(columns))
    if key not in _PROCESSORS:
        pairs = []
        for name in columns:
            column = table.c.get(name)
            process = column.type._cached_bind_processor(dialect) if column is not None else None
            if process is not None and isinstance(column.type, JSON):
                process = _json_or_text(process)
            pairs.append((name, process))
        _PROCESSORS[key] = pairs
    return _PROCESSORS[key]


def _json_or_text(process):
    def processed(value):
        return value.text if isinstance(value, EncodedJSON) else process(value)

    return processed


_STATEMENTS: dict[tuple[str, tuple[str, ...]], str] = {}


def _statement(table: Table, columns: tuple[str, ...], dialect) -> str:
    """INSERT (or, for the audit head, UPDATE) with named parameters, compiled once."""
    key = (table.name, columns)
    if key not in _STATEMENTS:
        if table is AuditHead.__table__:
            stmt = (
                update(table)
                .where(table.c.id == bindparam("head_id"))
                .values(seq=bindparam("head_seq"), hash=bindparam("head_hash"))
            )
        else:
            stmt = insert(table)
        compiled = stmt.compile(dialect=dialect, column_keys=list(columns))
        if set(compiled.params) != set(columns) or compiled.escaped_bind_names:
            raise RuntimeError(f"cannot send rows of {table.name} as named parameters")
        _STATEMENTS[key] = compiled.string
    return _STATEMENTS[key]


def _pipeline(connection: Connection, work: list[tuple[Table, list[dict[str, Any]]]]) -> None:
    """PostgreSQL: each (table, rows) as one executemany, all in one pipeline (one sync)."""
    if not work:
        return
    import psycopg

    dialect = connection.dialect
    raw = connection.connection.driver_connection
    statement = ""
    try:
        with raw.pipeline(), raw.cursor() as cursor:
            for table, rows in work:
                columns = tuple(rows[0])
                statement = _statement(table, columns, dialect)
                pairs = _processed(table, list(columns), dialect)
                cursor.executemany(
                    statement,
                    [
                        {
                            name: process(row[name]) if process else row[name]
                            for name, process in pairs
                        }
                        for row in rows
                    ],
                )
    except psycopg.Error as exc:
        _raise_as_sqlalchemy(exc, statement, connection, raw)


def _copy(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: COPY ... FROM STDIN on the session's own connection and transaction.

    Each value goes through its column type's bind processor first, exactly as an INSERT
    through SQLAlchemy would send it (UTC times, JSON). A refusal by the database is raised
    as the SQLAlchemy exception an INSERT's would be.
    """
    import psycopg

    columns = list(rows[0])
    dialect = connection.dialect
    pairs = _processed(table, columns, dialect)
    names = ", ".join(dialect.identifier_preparer.quote(name) for name in columns)
    statement = f"COPY {dialect.identifier_preparer.format_table(table)} ({names}) FROM STDIN"
    raw = connection.connection.driver_connection
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(
                    [
                        process(row[name]) if process is not None else row[name]
                        for name, process in pairs
                    ]
                )
    except psycopg.Error as exc:
        _raise_as_sqlalchemy(exc, statement, connection, raw)
