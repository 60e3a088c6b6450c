"""The border check's commits leave SQLite's checkpoints to a background thread (issue 16: the
copy of the write-ahead log into a large replica, done by whichever commit crossed 1000 pages, was
the hits' latency tail): the check's connection never checkpoints itself, and every `every` commits
a passive checkpoint copies the log into the database file."""

from __future__ import annotations

import time
from pathlib import Path

from nodes.national.features.person import store as person_store
from nodes.national.features.person.store import WalCheckpoints
from nodes.plumbing.db import make_engine


def _database_file_mb(path: Path) -> float:
    """The main file's size: what checkpoints copied there (the write-ahead log is another file)."""
    return path.stat().st_size / 1e6


def test_commits_do_not_checkpoint_and_the_background_thread_does(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE log (n INTEGER PRIMARY KEY, filler TEXT)")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    checkpoints = WalCheckpoints(engine, every=4)
    raw = engine.raw_connection()
    WalCheckpoints.no_automatic_checkpoints(raw)
    assert raw.cursor().execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    try:
        for n in range(3):  # 3 x 2000 pages: far past SQLite's own threshold, still only in the log
            cursor = raw.cursor()
            cursor.executemany("INSERT INTO log (filler) VALUES (?)", [("x" * 3000,)] * 2000)
            raw.commit()
            checkpoints.committed()
        assert _database_file_mb(path) < 1  # 18 MB of rows, all still in the log
        raw.cursor().execute("INSERT INTO log (filler) VALUES ('last')")
        raw.commit()
        checkpoints.committed()  # the 4th: a passive checkpoint in the background
        deadline = time.monotonic() + 10
        while _database_file_mb(path) < 18 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _database_file_mb(path) >= 18
    finally:
        raw.close()
        checkpoints.close()
        engine.dispose()


def test_the_log_restarts_at_its_start_although_checks_commit_while_it_is_copied(tmp_path: Path) -> None:
    """A commit that finds the log wholly copied writes at the log's start (the file does not grow,
    and its fdatasync commits no file-system metadata); commits made while the background copy ran
    would leave it never wholly copied, unless the last copy is made between two transactions."""
    path = tmp_path / "node.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE log (n INTEGER PRIMARY KEY, filler TEXT)")
    checkpoints = WalCheckpoints(engine, every=4)
    raw = engine.raw_connection()
    WalCheckpoints.no_automatic_checkpoints(raw)

    def commit(rows: int, *, counted: bool = True) -> None:
        with checkpoints.turn:  # as the border check's writers do
            raw.cursor().executemany("INSERT INTO log (filler) VALUES (?)", [("x" * 3000,)] * rows)
            raw.commit()
        if counted:
            checkpoints.committed()

    try:
        for _ in range(4):  # the 4th commit starts the background checkpoint of ~6,000 frames
            commit(2000)
        commits_during_copy = 0
        deadline = time.monotonic() + 10
        while _database_file_mb(path) < 24 and time.monotonic() < deadline:
            commit(1)  # checks keep coming while the bulk is copied
            commits_during_copy += 1
        assert commits_during_copy > 0
    finally:
        checkpoints.close()  # waits for the checkpoint to end
    try:
        commit(1, counted=False)  # the first transaction after the checkpoint
        frames = raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
        assert frames <= 3, f"the log was not restarted: {frames} frames in it"
    finally:
        raw.close()
        engine.dispose()


def test_the_checks_own_connections_never_return_to_the_pool_with_their_settings(tmp_path: Path) -> None:
    """The quiet log's synchronous=NORMAL and the check's and reporter's connections without
    automatic checkpoints are theirs alone: closed, they are closed, not handed to the next user of
    the pool (which would then commit without an fsync, or never checkpoint)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'node.db'}")
    person_store.metadata.create_all(engine)
    checkpoints = WalCheckpoints(engine)
    openers = {"quiet log": lambda: person_store.QuietCheckLog(engine, checkpoints),
               "reporter's": lambda: person_store.private_connection(engine, "NORMAL"),
               "check's": lambda: person_store.private_connection(engine)}
    try:
        for name, opener in openers.items():
            opener().close()
            pooled = [engine.connect() for _ in range(3)]  # whatever the pool holds, and new ones
            try:
                for conn in pooled:
                    assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2, name  # FULL
                    assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000, name
            finally:
                for conn in pooled:
                    conn.close()
    finally:
        checkpoints.close()
        engine.dispose()
