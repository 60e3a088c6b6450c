"""Database engines for the hub's and the nodes' stores (SQLite by default, PostgreSQL too)."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from nodes.plumbing.db_replication import libpq_url
from nodes.plumbing.private_files import private_sqlite_file


def make_engine(url: str) -> Engine:
    """An engine with durable, concurrent-reader settings for SQLite (WAL, synchronous=FULL)."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            private_sqlite_file(path)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Deleted rows are overwritten, not left in free pages (personal data: docs/cases.md).
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return engine
    # A multi-host URL (docs/database-ha.md) as libpq's host parameters; pre-ping: after a failover the
    # pooled connections to the old primary are dead, a fresh one reaches the new primary.
    return create_engine(libpq_url(url), pool_pre_ping=True)


def erase_freed(engine: Engine, *, attempts: int = 50, pause: float = 0.02) -> bool:
    """Make deleted rows unreadable on disk now, not at the next checkpoint.

    SQLite in WAL mode keeps the old page images (the deleted personal data with them) in the
    write-ahead log until a checkpoint; `wal_checkpoint(TRUNCATE)` copies the current pages into the
    database file (where secure_delete zeroed the freed space) and empties the log. A reader that
    still holds an old snapshot makes it report "busy": retried briefly. False when it never
    completed (the next sweep tries again). PostgreSQL: see docs/cases.md (VACUUM).
    """
    if engine.dialect.name != "sqlite":
        return True
    for _ in range(attempts):
        with engine.connect() as conn:
            busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()[0]
        if not busy:
            return True
        time.sleep(pause)
    return False


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL; None for an in-memory database or another engine."""
    parsed = make_url(libpq_url(url))
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:"):
        return None  # a URI filename: its owner chose the file and its options
    return Path(parsed.database)
