"""The hub's log parts on a real SQLite file (nodes/hub/log_storage.py, sequencer.py, checkpoints.py):
what a checkpoint serves after the stored log was cut back and regrown."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crypto.note import cosign_note
from nodes.hub.audit import ACCEPTED, AuditEntry, AuditStore
from nodes.plumbing.db import make_engine
from nodes.app.ceremony import init_federation
from nodes.plumbing.federation import Federation, load_federation

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Federation:
    path = tmp_path_factory.mktemp("fed") / "federation"
    init_federation(path, "log-parts", ["MEX", "IDN"], NOW)
    return load_federation(path, NOW)


def _entries(tag: str, start: int, count: int) -> list[AuditEntry]:
    return [AuditEntry(verdict=ACCEPTED, digest=f"{i:064x}", received_at="2026-11-22T12:00:00.000000Z",
                       message_id=f"01a20000-0000-7000-8000-{i:012x}", type="note", sender="MEX",
                       recipients=("IDN",), thread=f"{tag}-{i}", marks_seen=True)
            for i in range(start, start + count)]


def _store(path: Path, federation: Federation) -> AuditStore:
    return AuditStore(make_engine(f"sqlite:///{path}"), "log-parts", federation.credentials("HUB").signing_key)


def test_a_checkpoint_of_a_regrown_log_serves_no_cosignature_made_for_the_old_tree(
        tmp_path: Path, federation: Federation) -> None:
    db = tmp_path / "audit.db"
    store = _store(db, federation)
    store.append(_entries("original", 0, 5))
    note = store.sign_checkpoint("2026-11-22T12:00:01.000000Z")
    signature = cosign_note(note.body, "IDN", federation.credentials("IDN").signing_key, 1_800_000_000)
    store.add_cosignature(5, "IDN", signature, 1_800_000_000, 0, 1)
    assert "IDN" in {s.name for s in store.checkpoint(5).signatures}

    # Someone with the database's keys cuts the log back to 2 entries; the hub carries on.
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM audit_entries WHERE seq >= 2")
        conn.execute("DELETE FROM merkle_nodes WHERE (((id & 1099511627775) + 1) << (id >> 40)) > 2")
        conn.execute("DELETE FROM seen_messages WHERE seq >= 2")
        conn.execute("DELETE FROM checkpoints")
    regrown = _store(db, federation)
    regrown.append(_entries("rewritten", 100, 3))
    new_note = regrown.sign_checkpoint("2026-11-22T12:00:02.000000Z")
    assert new_note.body != note.body and regrown.size == 5
    assert {s.name for s in regrown.checkpoint(5).signatures} == {"somex-hub"}  # the hub's own alone
    assert regrown.newest_cosigned(1) is None
