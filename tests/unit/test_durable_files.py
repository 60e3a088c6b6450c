"""Files a committed row or a running node relies on are on disk, names included, before they are
relied on: a spooled upload before its reference is given out (Spool.finish: the carrier that lists
it commits after, and a crash must not leave the node a short file to send), and a file replaced
atomically (keys, certificates, signed federation documents) and a backup before the call returns."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from nodes.national.features.files import transfers
from nodes.national.schema import NODE_SCHEMA
from nodes.plumbing import backup as backup_module
from nodes.plumbing import private_files
from nodes.plumbing.schema import open_store
from protocol import files as protocol_files
from protocol.errors import PolicyError


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What was flushed to disk, in order: each file by its path, each directory by `dir:` path."""
    done: list[str] = []
    real_fdatasync, real_sync_path = os.fdatasync, transfers.sync_path

    def fdatasync(fd: int) -> None:
        done.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fdatasync(fd)

    def sync_path(path: Path) -> None:
        done.append(f"dir:{path}")
        real_sync_path(path)

    monkeypatch.setattr(transfers.os, "fdatasync", fdatasync)
    monkeypatch.setattr(transfers, "sync_path", sync_path)
    return done


def test_a_finished_spool_is_synced_with_its_directory_entry_before_its_reference(tmp_path: Path,
                                                                                  synced: list[str]) -> None:
    spool = transfers.Spool(tmp_path / "upload", "evidence.bin", "application/octet-stream")
    data = os.urandom(3 * 1024 * 1024 + 5)
    spool.write(data[:1000])
    spool.write(data[1000:])
    assert synced == []
    spooled = spool.finish()
    assert synced == [str(tmp_path / "upload"), f"dir:{tmp_path}"]
    assert spooled.ref["sha256"] == hashlib.sha256(data).hexdigest() and spooled.ref["size"] == len(data)
    assert (tmp_path / "upload").read_bytes() == data


def test_an_empty_spool_is_refused_and_removed_without_a_sync(tmp_path: Path, synced: list[str]) -> None:
    spool = transfers.Spool(tmp_path / "upload", "empty.bin", "application/octet-stream")
    with pytest.raises(PolicyError) as refused:
        spool.finish()
    assert refused.value.reason == "bad_request"
    assert not (tmp_path / "upload").exists() and synced == []


def test_a_file_replaced_atomically_has_its_new_name_synced_before_the_call_returns(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "signing.crt"
    target.write_bytes(b"old")
    seen: list[tuple[Path, bytes]] = []
    real = private_files.sync_path
    monkeypatch.setattr(private_files, "sync_path", lambda path: (seen.append((path, target.read_bytes())), real(path)))
    private_files.replace_atomically(target, b"new")
    assert seen == [(tmp_path, b"new")]  # the directory synced once the new content had the name
    assert target.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["signing.crt"]


def test_a_backup_is_synced_and_then_its_name_before_the_command_returns(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'MEX.db'}"
    open_store(url, NODE_SCHEMA, "MEX").dispose()
    out = tmp_path / "backups" / "MEX.backup"
    out.parent.mkdir()
    seen: list[tuple[str, bool]] = []
    real = backup_module.sync_path
    monkeypatch.setattr(backup_module, "sync_path", lambda path: (seen.append((path.name, out.exists())), real(path)))
    backup_module.backup(url, out, NODE_SCHEMA, "MEX")
    assert seen == [(".MEX.backup.partial", False), ("backups", True)]  # the bytes, then the name, then return


def test_a_spool_digests_the_bytes_written_whatever_the_caller_does_with_its_buffer_after(
        tmp_path: Path, synced: list[str]) -> None:
    """The whole file's digest is computed beside the write: pieces of any size, across chunk
    boundaries, and a buffer the caller reuses at once, still give the file's and each chunk's
    SHA-256 of exactly what was written."""
    data = os.urandom(2 * protocol_files.CHUNK_BYTES + 777)
    spool = transfers.Spool(tmp_path / "upload", "evidence.bin", "application/octet-stream")
    buffer = bytearray(1024 * 1024 + 3)
    for start in range(0, len(data), len(buffer)):
        piece = data[start:start + len(buffer)]
        buffer[:len(piece)] = piece
        spool.write(memoryview(buffer)[:len(piece)])
        buffer[:] = bytes(len(buffer))  # the caller reuses its buffer
    ref = spool.finish().ref
    assert ref["sha256"] == hashlib.sha256(data).hexdigest() and ref["size"] == len(data)
    step = protocol_files.CHUNK_BYTES
    assert ref["chunks"] == [hashlib.sha256(data[i:i + step]).hexdigest() for i in range(0, len(data), step)]
    assert (tmp_path / "upload").read_bytes() == data
