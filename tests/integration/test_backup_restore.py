"""Backup and restore (issue 18): consistent while the store is written, never over a running store,
bad backups refused with nothing changed, and witnesses refuse the log of a hub restored from an
older backup."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select

from nodes.hub.schema import HUB_SCHEMA
from nodes.national.schema import NODE_SCHEMA
from nodes.national.store import messages, outbox
from nodes.national.witness import open_alarms, witnessed
from nodes.app.cli import main
from nodes.plumbing.db import make_engine
from nodes.plumbing.schema import open_store
from protocol.checkpoint import parse_note
from tests.integration.databases import database  # noqa: F401 - a fixture
from tests.integration.federation import RunningFederation, eventually
from tests.integration.test_audit_hub import witnessed_by_all

pytestmark = pytest.mark.integration


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(outbox)).scalar_one(),
                conn.execute(select(func.count()).select_from(messages)).scalar_one())


def _send(engine: Engine, n: int) -> None:
    """What sending does to the store: the outbox row and its `messages` copy, in one transaction."""
    with engine.begin() as conn:
        conn.execute(insert(outbox), {"message_id": f"m-{n}", "raw": b"{}", "queued_at": "2026-12-02T00:00:00Z"})
        conn.execute(insert(messages), {
            "message_id": f"m-{n}", "direction": "out", "type": "note", "sender": "MEX", "recipients": '["IDN"]',
            "created": "2026-12-02T00:00:00Z", "digest": "0" * 64, "raw": b"{}", "stored_at": "2026-12-02T00:00:00Z"})


def test_a_node_backup_taken_while_it_runs_is_consistent_and_restores_only_into_a_stopped_node(
        database, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    url = database("mex")
    running = open_store(url, NODE_SCHEMA, "MEX")  # what `somex node run` holds while it runs
    for n in range(50):
        _send(running, n)
    stop, written = threading.Event(), [50]

    def keep_sending() -> None:
        while not stop.is_set() or written[0] < 150:
            _send(running, written[0])
            written[0] += 1

    sender = threading.Thread(target=keep_sending)
    sender.start()
    try:
        backup = tmp_path / "mex.backup"
        assert main(["node", "backup", "--country", "MEX", "--db", url, "--out", str(backup)]) == 0
    finally:
        stop.set()
        sender.join()
    for n in range(written[0], written[0] + 5):  # ...and goes on after the backup
        _send(running, n)
    written[0] += 5
    said = capsys.readouterr().out
    assert "private keys" in said and "NOT in it" in said
    assert backup.stat().st_mode & 0o077 == 0

    before = _counts(running)
    assert main(["node", "restore", str(backup), "--country", "MEX", "--db", url]) == 2
    assert "in use by a running process" in capsys.readouterr().err
    assert _counts(running) == before  # nothing changed

    running.dispose()  # the node stops
    assert main(["node", "restore", str(backup), "--country", "MEX", "--db", url]) == 0
    restarted = open_store(url, NODE_SCHEMA, "MEX")  # starts on it
    restored = _counts(restarted)
    assert restored[0] == restored[1]  # one snapshot: every outbox row with its message, none without
    assert 50 <= restored[0] < before[0] == written[0]
    restarted.dispose()

    truncated = tmp_path / "truncated.backup"
    truncated.write_bytes(backup.read_bytes()[: backup.stat().st_size // 2])
    assert main(["node", "restore", str(truncated), "--country", "MEX", "--db", url]) == 2
    assert "(damaged_backup)" in capsys.readouterr().err
    assert _counts(make_engine(url)) == restored


def test_restore_refuses_another_nodes_backup_a_hub_backup_and_a_wrong_target(tmp_path: Path, capsys) -> None:
    urls = {who: f"sqlite:///{tmp_path / f'{who}.db'}" for who in ("MEX", "IDN", "HUB")}
    for who in ("MEX", "IDN"):
        engine = open_store(urls[who], NODE_SCHEMA, who)
        _send(engine, 1)
        engine.dispose()
    open_store(urls["HUB"], HUB_SCHEMA, "HUB").dispose()
    for who in ("IDN", "HUB"):
        command = ["hub"] if who == "HUB" else ["node", "--country", who]
        assert main([*command[:1], "backup", *command[1:], "--db", urls[who], "--out", str(tmp_path / who)]) == 0
    mex = (tmp_path / "MEX.db").read_bytes()

    for backup, reason in (("IDN", "wrong_holder"), ("HUB", "not_a_backup")):
        assert main(["node", "restore", str(tmp_path / backup), "--country", "MEX", "--db", urls["MEX"]]) == 2
        assert f"({reason})" in capsys.readouterr().err
    # IDN's own backup, but --db names MEX's database: refused, MEX's database untouched.
    assert main(["node", "restore", str(tmp_path / "IDN"), "--country", "IDN", "--db", urls["MEX"]]) == 2
    assert "(wrong_database)" in capsys.readouterr().err
    assert (tmp_path / "MEX.db").read_bytes() == mex


async def test_witnesses_refuse_the_log_of_a_hub_restored_from_an_older_backup(fed: RunningFederation,
                                                                                tmp_path: Path, capsys) -> None:
    hub_db = fed.hub_config().db_url
    for i in range(2):
        await fed.nodes["MEX"].send("note", ["IDN"], body={"text": f"before the backup {i}"})
    await eventually(lambda: len(fed.inbox("IDN", type="note")) == 2, what="deliveries")
    backup = tmp_path / "hub.backup"
    assert main(["hub", "backup", "--db", hub_db, "--out", str(backup)]) == 0  # while the hub runs
    capsys.readouterr()

    for i in range(6):
        await fed.nodes["MEX"].send("note", ["IDN"], body={"text": f"after the backup {i}"})
    await eventually(lambda: len(fed.inbox("IDN", type="note")) == 8, what="deliveries")
    cosigned, _ = await eventually(witnessed_by_all(fed, fed.hub.store.size), timeout=20, what="witnessed checkpoint")

    assert main(["hub", "restore", str(backup), "--db", hub_db]) == 2  # not over the running hub
    assert "in use by a running process" in capsys.readouterr().err

    await fed.hub.stop()
    assert main(["hub", "restore", str(backup), "--db", hub_db]) == 0
    said = capsys.readouterr().out
    await fed.start_hub()
    restored = fed.hub.store.size
    assert restored < cosigned and f"restored head ({restored} entries)" in said  # the log continues from there

    await fed.nodes["ITA"].send("note", ["MEX"], body={"text": "after the restore"})  # a checkpoint below theirs
    for country in ("MEX", "IDN", "ITA"):
        alarms = await eventually(lambda c=country: open_alarms(fed.nodes[c]), timeout=20, what=f"alarm at {country}")
        shrank = re.search(r"shrank from (\d+) to (\d+) entries", alarms[0]["detail"])
        assert alarms[0]["reason"] == "inconsistent" and shrank, alarms[0]
        assert int(shrank[1]) >= cosigned and restored < int(shrank[2]) < cosigned

    # Nothing the restored hub signed was cosigned: no witness keeps it, the hub holds no cosignature.
    signed_after = {fed.hub.store.checkpoint(size).body for size in fed.hub.store.checkpoint_sizes() if size > restored}
    assert signed_after
    for node in fed.nodes.values():
        assert not signed_after & {parse_note(note.encode()).body for _, note in _witnessed(node.store.engine)}
    latest = fed.hub.store.latest_checkpoint()
    assert latest is not None and not ({"MEX", "IDN", "ITA"} & {s.name for s in latest[1].signatures})


def _witnessed(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(witnessed.c.size, witnessed.c.note))]
