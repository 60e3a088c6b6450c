"""Backup and restore of a hub's or node's database, consistent while the process runs.

SQLite: the online backup API copies the whole database in one step under one read transaction
(a consistent snapshot; writers in WAL mode go on meanwhile), and restores the same way into the
target file, so the target's write-ahead log is handled by SQLite. PostgreSQL: `pg_dump -Fc` (one
snapshot) and `pg_restore --clean --single-transaction`. The keys are never in a backup: they live in
the federation directory, not in the database (docs/operations.md, "Backup and restore").

A backup names its holder (somex_<side>_identity, schema revision 0002): restore refuses another
holder's backup, a file that is not a complete backup, a backup made by a newer release, and a
target a running process holds (nodes/plumbing/store_lease.py). Nothing is changed then.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from nodes.plumbing.db import make_engine, sqlite_path
from nodes.plumbing.private_files import sync_path
from nodes.plumbing.schema import Schema, SchemaError, check_holder, known_revisions, where
from nodes.plumbing.store_lease import exclusive


class BackupRefused(ValueError):
    """The backup file or the target is not one to restore (or back up); nothing changed."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason, self.detail = reason, detail

    def __str__(self) -> str:
        return f"{self.detail} ({self.reason})"


@dataclass(frozen=True)
class BackupFacts:
    holder: str | None  # None: a backup of schema revision 0001 (before the holder was recorded)
    revision: str | None  # None: a database made before migrations (somex 0.3)
    rows: int | None  # rows in every table (SQLite); None for a pg_dump archive


def backup(db_url: str, out: Path, schema: Schema, holder: str) -> BackupFacts:
    """Write a consistent copy of `holder`'s database to `out` (0600, written whole or not at all,
    and on disk, its name included, once this returns: an operator relies on it at once)."""
    out = Path(out)
    tmp = out.with_name(f".{out.name}.partial")
    path = sqlite_path(db_url)
    try:
        if db_url.startswith("sqlite"):
            if path is None or not path.is_file():
                raise BackupRefused("no_database", f"no database at {db_url}: check --db (nothing written)")
            _sqlite_facts(path, schema, holder, whole=False)  # is it this holder's?
            source = _read_only(path)
            target = sqlite3.connect(_private(tmp))
            try:
                with target:
                    source.backup(target)  # pages=-1: all in one step, one snapshot
            finally:
                source.close()
                target.close()
            facts = _sqlite_facts(tmp, schema, holder)
        else:
            _pg(["pg_dump", "--format=custom", "--no-owner", "--file", str(_private(tmp))], db_url)
            facts = _dump_facts(tmp, schema, holder)
        sync_path(tmp)
        os.replace(tmp, out)
        sync_path(out.parent)
        return facts
    finally:
        tmp.unlink(missing_ok=True)


def restore(backup_file: Path, db_url: str, schema: Schema, holder: str, what: str) -> BackupFacts:
    """Replace `holder`'s database at `db_url` with the backup, after checking the backup (complete,
    this holder's, a schema revision this release knows) and that no process is running on it."""
    backup_file = Path(backup_file)
    if not backup_file.is_file():
        raise BackupRefused("no_backup", f"{backup_file} is not a file: check the path (nothing changed)")
    sqlite_backup = backup_file.read_bytes()[:16] == b"SQLite format 3\x00"
    if db_url.startswith("sqlite"):
        if not sqlite_backup:
            raise BackupRefused("not_a_backup", f"{backup_file} is not an SQLite backup of a {schema.side} "
                                f"database (a PostgreSQL dump restores only into PostgreSQL): nothing changed")
        facts = _sqlite_facts(backup_file, schema, holder)
        path = sqlite_path(db_url)
        if path is None:
            raise BackupRefused("no_database", f"restore needs a database file, not {db_url}")
        engine = make_engine(db_url)
        try:
            with exclusive(engine, schema.side, what):
                _check_target(engine, schema, holder)
                engine.dispose()
                source = _read_only(backup_file)
                target = sqlite3.connect(path)
                try:
                    source.backup(target)
                finally:
                    source.close()
                    target.close()
        finally:
            engine.dispose()
        return facts
    if sqlite_backup:
        raise BackupRefused("not_a_backup", f"{backup_file} is an SQLite backup; {where(make_engine(db_url))} "
                            f"is PostgreSQL: nothing changed")
    facts = _dump_facts(backup_file, schema, holder)
    engine = make_engine(db_url)
    try:
        with exclusive(engine, schema.side, what):
            _check_target(engine, schema, holder)
            engine.dispose()
            _pg(["pg_restore", "--clean", "--if-exists", "--single-transaction", "--no-owner",
                 "--exit-on-error", "--dbname"], db_url, str(backup_file))
    finally:
        engine.dispose()
    return facts


def _private(path: Path) -> Path:
    path.unlink(missing_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600))
    return path


# -- what a backup holds --------------------------------------------------------------------------

def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _sqlite_facts(path: Path, schema: Schema, holder: str, *, whole: bool = True) -> BackupFacts:
    """What an SQLite database or backup holds; `whole`: read every page first (quick_check) and
    count the rows (a backup's check; the live database's holder check skips it)."""
    try:
        conn = _read_only(path)
        try:
            verdict = conn.execute("PRAGMA quick_check(1)").fetchone()[0] if whole else "ok"
            if verdict != "ok":
                raise sqlite3.DatabaseError(verdict)
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            revision = (conn.execute(f'SELECT version_num FROM "{schema.version_table}"').fetchone() or [None])[0] \
                if schema.version_table in tables else None
            holders = [r[0] for r in conn.execute(f'SELECT holder FROM "{schema.identity_table}"')] \
                if schema.identity_table in tables else None
            rows = sum(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables) if whole else None
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupRefused("damaged_backup", f"{path} is not a complete SQLite database ({exc}): a truncated or "
                            f"damaged file; use another backup (nothing changed)") from None
    return _checked(path, schema, holder, tables, revision, holders, rows)


def _dump_facts(path: Path, schema: Schema, holder: str) -> BackupFacts:
    listing = _run(["pg_restore", "--list", str(path)], path, reason="damaged_backup")
    tables = set(re.findall(r" TABLE (?:DATA )?\S+ (\S+)(?: |$)", listing, re.M))
    revision = holders = None
    if schema.version_table in tables:
        revision = (_copied_rows(path, schema.version_table) or [[None]])[0][0]
    if schema.identity_table in tables:
        holders = [r[0] for r in _copied_rows(path, schema.identity_table)]
    return _checked(path, schema, holder, tables, revision, holders, None)


def _copied_rows(path: Path, table: str) -> list[list[str]]:
    """The rows of `table` in a pg_dump archive (its COPY data, read without any database)."""
    script = _run(["pg_restore", "--data-only", "--table", table, "--file", "-", str(path)], path,
                  reason="damaged_backup")
    rows, copying = [], False
    for line in script.splitlines():
        if line.startswith("COPY "):
            copying = True
        elif line == "\\.":
            copying = False
        elif copying:
            rows.append(line.split("\t"))
    return rows


def _checked(path: Path, schema: Schema, holder: str, tables: set[str], revision: str | None,
             holders: list[str] | None, rows: int | None) -> BackupFacts:
    markers = {"node": "outbox", "hub": "audit_entries"}
    if markers[schema.side] not in tables:
        raise BackupRefused("not_a_backup", f"{path} holds no {schema.side} database (no {markers[schema.side]} "
                            f"table): nothing changed")
    if revision is not None and revision not in known_revisions(schema):
        raise BackupRefused("schema_ahead", f"{path} is at schema revision {revision}, made by a newer somex "
                            f"than this one: restore it with that release (nothing changed)")
    if holders is not None and holders != [holder]:
        raise BackupRefused("wrong_holder", f"{path} is a backup of {', '.join(holders) or 'no one'}'s "
                            f"{schema.side} database, not {holder}'s: nothing changed")
    return BackupFacts(holders[0] if holders else None, revision, rows)


# -- PostgreSQL client tools ----------------------------------------------------------------------

def _tool(name: str) -> str:
    import glob

    found = shutil.which(name) or (sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [None])[-1]
    if found is None:
        raise BackupRefused("no_pg_tools", f"{name} not found: install the PostgreSQL client tools "
                            "(apt-get install postgresql-client)")
    return found


def _pg(argv: list[str], db_url: str, *more: str) -> str:
    """Run pg_dump / pg_restore against `db_url`; its password goes in the environment, not argv."""
    url = make_url(db_url)
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    conninfo = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return _run([*argv, conninfo, *more], where_=make_url(db_url).render_as_string(hide_password=True), env=env)


def _run(argv: list[str], where_: object, env: dict[str, str] | None = None,
         reason: str = "backup_tool_failed") -> str:
    argv = [_tool(argv[0]), *argv[1:]]
    with tempfile.TemporaryFile() as err:
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=err, env=env, timeout=3600, check=False)
        err.seek(0)
        message = err.read().decode(errors="replace").strip().splitlines()
    if done.returncode != 0:
        raise BackupRefused(reason, f"{Path(argv[0]).name} failed on {where_}: "
                            f"{message[-1] if message else 'exit ' + str(done.returncode)} (nothing changed)")
    return done.stdout.decode(errors="replace")


def _check_target(engine: Engine, schema: Schema, holder: str) -> None:
    """The database to overwrite, if it names a holder, must be `holder`'s (a wrong --db is refused)."""
    try:
        with engine.connect() as conn:
            check_holder(conn, engine, schema, holder)
    except SchemaError as exc:
        raise BackupRefused(exc.reason, f"{exc.detail} (nothing changed)") from None
