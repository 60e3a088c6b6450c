"""SQLite overwrites what it deletes on every connection somex opens (issue 20 item 5), whatever
the platform's compile-time default (Debian's Python has SECURE_DELETE on; others do not)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event

from nodes.plumbing.db import erase_freed, make_engine


def test_secure_delete_is_set_even_where_the_platform_default_is_off(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'node.db'}")

    @event.listens_for(engine, "connect", insert=True)  # runs first: a platform whose default is off
    def platform_default_off(dbapi_connection, _record) -> None:  # noqa: ANN001
        dbapi_connection.execute("PRAGMA secure_delete=OFF")

    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    engine.dispose()


def test_erase_freed_leaves_no_deleted_row_in_the_write_ahead_log(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'node.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE person (name TEXT)")
        conn.exec_driver_sql("INSERT INTO person VALUES ('Wilhelmina-Oyelaran')")
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM person")
    files = [tmp_path / "node.db", tmp_path / "node.db-wal"]
    assert any(b"Wilhelmina" in f.read_bytes() for f in files if f.exists())  # the WAL still has it
    assert erase_freed(engine)
    assert not any(b"Wilhelmina" in f.read_bytes() for f in files if f.exists())
    engine.dispose()


def test_erase_freed_is_a_no_op_elsewhere() -> None:
    engine = make_engine("sqlite://")  # in memory: nothing on disk, nothing to do, no error
    assert erase_freed(engine)
