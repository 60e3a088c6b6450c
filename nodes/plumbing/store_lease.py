"""Who is using a database: a running hub or node holds a shared lease on its store, and
`somex hub|node restore` takes it exclusively, so a restore never overwrites a running store.

SQLite: flock(2) on the database file (SQLite itself locks with fcntl record locks, which flock
does not touch). PostgreSQL: a session advisory lock (per database) on a connection of its own.
Several processes may hold the shared lease at once (a crash test restarts a node in-process);
the lease ends when the store's engine is disposed (the node's and hub's stop), collected, or the process ends.
"""

from __future__ import annotations

import fcntl
import os
import weakref
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.pool import NullPool

from nodes.plumbing.db import sqlite_path


class StoreInUse(Exception):
    """A running process holds the store: stop it first."""


def _lock_key(side: str) -> int:
    return zlib.crc32(f"somex-{side}-store".encode())  # a stable 32-bit advisory lock key per side


def hold_shared(engine: Engine, side: str) -> None:
    """Hold the shared lease on `engine`'s database until the process ends or the engine is disposed."""
    release = _acquire(engine, side, exclusive=False)
    if release is False:
        raise StoreInUse(f"the {side}'s database is being restored: start again when the restore has ended")
    if release is not None:
        # Released once: by dispose (a stop), else when the engine is collected or at exit (a process
        # or test that never stopped it), so no lease outlives its engine.
        finalizer = weakref.finalize(engine, release)
        event.listen(engine, "engine_disposed", lambda _engine: finalizer(), once=True)


@contextmanager
def exclusive(engine: Engine, side: str, what: str) -> Iterator[None]:
    """The store to oneself (restore), or StoreInUse naming `what` to stop."""
    release = _acquire(engine, side, exclusive=True)
    if release is False:
        raise StoreInUse(f"the {what} is in use by a running process: stop it first (nothing changed)")
    try:
        yield
    finally:
        if release:
            release()


def _acquire(engine: Engine, side: str, *, exclusive: bool):  # noqa: ANN202 - release callable, None, or False
    """A callable that releases the lease; None if this kind of database has none (in-memory);
    False if `exclusive` and someone holds it."""
    if engine.dialect.name == "sqlite":
        path = sqlite_path(str(engine.url))
        if path is None:
            return None
        path.touch(mode=0o600, exist_ok=True)
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        return lambda: os.close(fd)
    if engine.dialect.name != "postgresql":
        return None
    holder = create_engine(engine.url, poolclass=NullPool)
    conn = holder.connect()
    function = "pg_try_advisory_lock" if exclusive else "pg_try_advisory_lock_shared"
    got = conn.execute(text(f"SELECT {function}(:key)"), {"key": _lock_key(side)}).scalar()
    conn.commit()  # the session lock outlives the transaction; the connection must not idle in one
    if not got:
        conn.close()
        holder.dispose()
        return False

    def release() -> None:
        conn.close()
        holder.dispose()

    return release
