"""INSERTs on a hot path: rows written through the SQLite driver's cursor, in the caller's
transaction, instead of SQLAlchemy's `execute(insert(table), rows)`.

On SQLite, SQLAlchemy's execute (cache key, compiled parameters, execution context, result) costs
several times the insert itself: a border check's access-log row took 0.24 ms of CPU through it,
0.07 ms through the cursor (docs/performance.md, "The log transaction's CPU, cut"). `insert_rows`
writes the same rows on the same DB-API connection, so they are in the caller's transaction and
committed or rolled back with it. It goes through SQLAlchemy as before whenever the shortcut could
differ: another database, a listener on the engine's statement events (tests inject faults so), a
column default the rows leave to SQLAlchemy, a column whose type SQLAlchemy converts or checks
(only text, integer, boolean and binary columns go direct), or a value not of its column's kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Boolean, Column, Connection, Enum, Integer, LargeBinary, String, Table, insert

_NONE = type(None)
# What the driver stores as SQLAlchemy would, by column type: the values each may take here.
_DIRECT_VALUES = ((Boolean, (bool, _NONE)), (Integer, (int, _NONE)), (LargeBinary, (bytes, _NONE)),
                  (String, (str, _NONE)))


def _values_of(column: Column) -> tuple[type, ...] | None:
    if isinstance(column.type, Enum):  # a String that SQLAlchemy checks
        return None
    return next((values for type_, values in _DIRECT_VALUES if isinstance(column.type, type_)), None)


@lru_cache(maxsize=256)
def _statement(table: Table, columns: tuple[str, ...]) -> tuple[str, tuple[tuple[type, ...], ...]] | None:
    """The INSERT for these columns and the values each may take, or None if SQLAlchemy must fill a
    default the rows leave out or convert a column's values."""
    if not set(columns) <= set(table.c.keys()):
        return None
    if any(c.key not in columns and (c.default is not None or c.onupdate is not None) for c in table.c):
        return None
    values = tuple(_values_of(table.c[c]) for c in columns)
    if None in values:
        return None
    names = ", ".join(f'"{table.c[c].name}"' for c in columns)
    return f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join(":" + c for c in columns)})', values


def _direct(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> str | None:
    if conn.dialect.name != "sqlite" or table.schema is not None:
        return None
    dispatch = conn.dispatch
    if dispatch.before_cursor_execute or dispatch.after_cursor_execute or dispatch.before_execute \
            or dispatch.after_execute:
        return None
    columns = tuple(rows[0])
    statement = _statement(table, columns)
    if statement is None:
        return None
    sql, allowed = statement
    for row in rows:
        if tuple(row) != columns or not all(isinstance(v, a) for v, a in zip(row.values(), allowed)):
            return None
    return sql


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
