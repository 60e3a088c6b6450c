"""Files and directories only their owner can read: state dirs 0700, databases, logs and records 0600.

A node's state holds case personal data and keys; another local user must not read it (issue 14,
item 6). Every process the project starts sets umask 077 first (`restrict_umask`), and files the
project creates itself get an explicit mode as well, so that they are private even when created
from a process with a looser umask (a test runner, an embedding application).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def restrict_umask() -> None:
    """Whatever this process (and its children: the broker, epmd) creates is its owner's alone."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path, *, tighten_existing: bool = True) -> Path:
    """Create `path` (and missing parents) 0700; tighten it if it exists with a looser mode (an older
    deployment's), unless `tighten_existing` is False (a directory the operator named, e.g. their home)."""
    path = Path(path)
    missing = []
    for parent in (path, *path.parents):
        if parent.exists():
            break
        missing.append(parent)
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    for created in (*missing, *((path,) if tighten_existing else ())):
        _tighten(created, DIR_MODE)
    return path


def write_private(path: Path, data: str | bytes) -> None:
    """Write `path` 0600 from its first byte on (O_CREAT does not change an existing file's mode: chmod too)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as out:
        out.write(data)
    os.chmod(path, FILE_MODE)


def sync_path(path: Path) -> None:
    """fsync a file, or a directory: its entries, so that a file created, renamed or replaced in it
    stays so after a crash (fsync of the file alone does not write its name)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomically(path: Path, data: bytes) -> None:
    """Replace a file atomically and durably: a reader sees the old or the new content, never half,
    and after a crash the new one once this returned. The file is 0600 like the rest of a private
    state dir, even when its content is public (a signed directory)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
        sync_path(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def private_sqlite_file(path: Path) -> None:
    """Create an SQLite database file 0600 before SQLite does (it would use the umask), and tighten its
    companions; SQLite gives -wal, -shm and -journal files the mode of the database file."""
    private_dir(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    for suffix in ("", *SQLITE_COMPANIONS):
        _tighten(Path(f"{path}{suffix}"), FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, mode)
