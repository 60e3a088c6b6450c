"""Start-up checks of a process's own files: unreadable storage ends in one line saying what to do.

A damaged database, deployment record or federation file must not end in a traceback (issue 22,
item 5): the operator gets the file, the error and the recovery, and the process exits with 2.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DatabaseError

from crypto.errors import CryptoError
from nodes.plumbing.config import utcnow
from nodes.plumbing.db import make_engine, sqlite_path
from nodes.plumbing.federation import load_federation

DOCS = "docs/recovery.md"
RESTORE = (f"the file is damaged: stop every process that uses it, keep a copy for analysis and restore it from "
           f"the latest backup ({DOCS}); mail not yet acknowledged is still queued at the broker")
_RECOVERY_BY_ERROR = (  # (words in the error, recovery); first match wins
    (("malformed", "not a database", "file is encrypted", "corrupt"), RESTORE),
    (("unable to open", "permission denied", "readonly", "read-only", "is a directory"),
     "check that it is a regular file owned by the user running somex, mode 0600, in a directory it can write "
     f"(0700); if it was lost, restore it from the latest backup ({DOCS})"),
    (("disk i/o error",), f"the disk or its file system failed: check it (dmesg), then restore the file from the "
                          f"latest backup if it is damaged ({DOCS})"),
    (("locked", "busy"), "another process holds it: is this hub or node already running on the same state dir?"),
    (("disk is full", "no space"), "free space on its file system, then start again"),
)


class UnreadableStorage(Exception):
    """A file this process must read is missing, damaged or not accessible: stop with one line."""

    def __init__(self, what: str, where: str | Path, error: str, recovery: str) -> None:
        super().__init__(what, str(where), error, recovery)
        self.what, self.where, self.error, self.recovery = what, str(where), error, recovery

    def __str__(self) -> str:
        return f"cannot read the {self.what} {self.where}: {self.error}; {self.recovery}"


def recovery_for(error: str) -> str:
    lowered = error.lower()
    for words, recovery in _RECOVERY_BY_ERROR:
        if any(word in lowered for word in words):
            return recovery
    return f"check the file and its permissions; if it is damaged, restore it from the latest backup ({DOCS})"


def database_unreadable(exc: BaseException, db_url: str, what: str) -> UnreadableStorage:
    """The one-line form of a database error met while opening or using `db_url`."""
    original = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    error = (str(original).strip().splitlines() or [type(original).__name__])[0]
    return UnreadableStorage(what, _where(db_url), error, recovery_for(error))


QUICK_CHECK_LIMIT = 256 * 1024**2  # bytes: up to here SQLite's quick_check (every page) costs about a second


def check_database(db_url: str, what: str) -> None:
    """Open the database and read its schema and the first row of every table; an SQLite file up to
    QUICK_CHECK_LIMIT is also read whole (`PRAGMA quick_check`).

    In a larger file, damage inside a table's later pages is found when that page is read; the
    process then stops with the same one line (the CLI turns any database error into it).
    """
    path = sqlite_path(db_url)
    if path is not None and path.exists() and not path.is_file():
        raise UnreadableStorage(what, path, "it is not a regular file", recovery_for("is a directory"))
    engine = None
    try:
        engine = make_engine(db_url)
        with engine.connect() as conn:
            if db_url.startswith("sqlite"):
                tables = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars().all()
                for table in tables:
                    conn.execute(text(f'SELECT * FROM "{table}" LIMIT 1')).all()
                if path is not None and path.stat().st_size <= QUICK_CHECK_LIMIT:
                    verdict = conn.execute(text("PRAGMA quick_check(1)")).scalar()
                    if verdict != "ok":
                        raise UnreadableStorage(what, path, f"database disk image is malformed ({verdict})",
                                                RESTORE)
            else:
                conn.execute(text("SELECT 1"))
    except (DatabaseError, sqlite3.DatabaseError, OSError) as exc:
        raise database_unreadable(exc, db_url, what) from None
    finally:
        if engine is not None:
            engine.dispose()


def check_federation(federation_dir: Path, node_id: str) -> None:
    """Load the federation and `node_id`'s credentials; a missing or unparsable file is UnreadableStorage.

    A file that parses but must not be trusted (bad signature, expired) raises CryptoError as before.
    """
    try:
        load_federation(federation_dir, utcnow()).credentials(node_id)
    except CryptoError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        where = getattr(exc, "filename", None) or federation_dir
        error = (str(exc).strip().splitlines() or [""])[0] or type(exc).__name__
        if isinstance(exc, OSError) and exc.strerror:
            error = exc.strerror
        raise UnreadableStorage("federation file", where, error,
                                f"restore the federation directory {federation_dir} from the latest backup ({DOCS}); "
                                "a public file (directory, revocations) can also be had again from the hub or the "
                                "root operator, a private key cannot") from None


def read_json_file(path: Path, what: str, recovery: str) -> Any:
    """A JSON file this process needs; UnreadableStorage if it cannot be read or parsed."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        error = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0]
        raise UnreadableStorage(what, path, error, recovery) from None


def _where(db_url: str) -> str:
    path = sqlite_path(db_url)
    return str(path) if path is not None else make_url(db_url).render_as_string(hide_password=True)
