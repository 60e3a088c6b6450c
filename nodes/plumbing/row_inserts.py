"""INSERTs on a hot path: rows written through the SQLite driver's cursor, in the caller's
transaction, instead of SQLAlchemy's `execute(insert(table), rows)`.

On SQLite, SQLAlchemy's execute (cache key, compiled parameters, execution context, result) costs
several times the insert itself: a border check's access-log row took 0.24 ms of CPU through it,
0.07 ms through the cursor (docs/performance.md, "The log transaction's CPU, cut"). `insert_rows` writes the same rows on the same DB-API connection, so they are
in the caller's transaction and committed or rolled back with it. It goes through SQLAlchemy as
before whenever the shortcut could differ: another database, a listener on the engine's statement
events (tests inject faults so), a column default the rows leave to SQLAlchemy, or a value that is
not one the driver stores as SQLAlchemy would (str, int, float, bytes, None; a bool is an int).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table, insert

_NATIVE = (str, int, float, bytes, type(None))


@lru_cache(maxsize=256)
def _statement(table: Table, columns: tuple[str, ...]) -> str | None:
    """The INSERT for these columns, or None if SQLAlchemy must fill a default the rows leave out."""
    known = set(table.c.keys())
    if not set(columns) <= known:
        return None
    if any(c.key not in columns and (c.default is not None or c.onupdate is not None) for c in table.c):
        return None
    names = ", ".join(f'"{table.c[c].name}"' for c in columns)
    return f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join(":" + c for c in columns)})'


def _direct(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> str | None:
    if conn.dialect.name != "sqlite" or table.schema is not None:
        return None
    dispatch = conn.dispatch
    if dispatch.before_cursor_execute or dispatch.after_cursor_execute or dispatch.before_execute \
            or dispatch.after_execute:
        return None
    columns = tuple(rows[0])
    for row in rows:
        if tuple(row) != columns or not all(isinstance(v, _NATIVE) for v in row.values()):
            return None
    return _statement(table, columns)


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT `rows` (each with the same keys) into `table` in `conn`'s transaction."""
    if not rows:
        return
    statement = _direct(conn, table, rows)
    if statement is None:
        conn.execute(insert(table), list(rows))
        return
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        if len(rows) == 1:
            cursor.execute(statement, rows[0])
        else:
            cursor.executemany(statement, rows)
    finally:
        cursor.close()
