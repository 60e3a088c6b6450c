"""Hangs (issue 22, fault 3): the hub SIGSTOPped past the broker's heartbeat timeout and the nodes'
delivery deadline, then SIGCONT — every note delivered once, one audit entry per note, no false
`hub.rejection`, and the nodes' health showed the hang while it lasted. A SIGSTOPped node: its
inbox waits, the hub raises an alarm, nothing is lost."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from nodes.hub.audit import AuditStore
from nodes.hub.relay import log_origin
from nodes.national.store import messages as message_table
from nodes.plumbing.db import make_engine
from nodes.plumbing.deployment import Deployment
from tests.integration.federation import RunningFederation, eventually, make_federation

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]
HEARTBEAT = 2  # seconds: the broker drops a hung peer's connection after about two of these
NOTES = 120


def spawn(tmp_path: Path, *args: str) -> subprocess.Popen:
    log = open(tmp_path / f"{args[0]}.log", "ab")  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "nodes.app.cli", "--state-dir", str(tmp_path), *args],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def hub_trail(fed: RunningFederation, tmp_path: Path) -> list[dict]:
    creds = fed.federation.credentials("HUB")
    origin = log_origin(fed.federation.directory.federation)
    store = AuditStore(make_engine(f"sqlite:///{tmp_path / 'hub' / 'audit.db'}"), origin, creds.signing_key, origin)
    return store.trail(limit=100_000)


async def send_notes(fed: RunningFederation, sender: str, to: str, count: int, ids: list[str]) -> None:
    for i in range(count):
        env = await fed.nodes[sender].send("note", [to], body={"text": f"note {i}"})
        ids.append(env.id)
        await asyncio.sleep(0.05)  # a steady stream across the hang, not one burst


async def test_hub_hung_past_the_heartbeat_timeout_delivers_each_note_once_with_one_audit_entry(
        broker, tmp_path: Path) -> None:  # noqa: ANN001
    fed = make_federation(broker, tmp_path, "hub-sigstop", countries=["MEX", "IDN"])
    Deployment(tmp_path, broker.amqp_port, vhost=fed.vhost, heartbeat=HEARTBEAT).save()
    hub = spawn(tmp_path, "hub", "run")
    quick = {"delivery_deadline": timedelta(seconds=6), "delivery_sweep_interval": 0.5, "hub_silence_alarm": 3.0}
    try:
        mex, idn = await fed.start_node("MEX", **quick), await fed.start_node("IDN", **quick)
        sent: list[str] = []
        stream = asyncio.create_task(send_notes(fed, "MEX", "IDN", NOTES, sent))
        await eventually(lambda: len(idn.store.list(direction="in", type="note", limit=1000)) >= 20, timeout=30,
                         what="the stream under way")
        hub.send_signal(signal.SIGSTOP)
        hung_at = time.monotonic()
        await eventually(lambda: "hub_silent" in mex.alarms, timeout=15, what="MEX's alarm while the hub hangs")
        await eventually(lambda: "delivery_overdue" in mex.alarms, timeout=15, what="overdue notes re-sent")
        await asyncio.sleep(max(0.0, 4 * HEARTBEAT + 2 - (time.monotonic() - hung_at)))  # past the heartbeat
        hub.send_signal(signal.SIGCONT)
        await stream

        def delivered() -> list[str]:
            return [m.message_id for m in idn.store.list(direction="in", type="note", limit=1000)]

        await eventually(lambda: len(delivered()) == NOTES, timeout=40, what="every note after SIGCONT")
        await eventually(lambda: "hub_silent" not in mex.alarms and "delivery_overdue" not in mex.alarms,
                         timeout=20, what="MEX's alarms cleared")
        assert sorted(delivered()) == sorted(sent)  # each once: message_id is the primary key
        assert mex.store.list(direction="in", type="hub.rejection") == []
        trail = hub_trail(fed, tmp_path)
        notes = [e for e in trail if e["type"] == "note"]
        assert sorted(e["message_id"] for e in notes) == sorted(sent)  # one entry per note
        assert all(e["verdict"] == "accepted" for e in notes)
        assert [e for e in trail if e["verdict"] != "accepted"] == []
        ids = [e["message_id"] for e in trail]
        assert len(ids) == len(set(ids))  # no second entry for any message, notes or receipts
        stop(hub)
        assert hub.returncode == 0
    finally:
        stop(hub)
        await fed.stop_all()
        fed.delete(broker)


async def test_node_hung_keeps_its_mail_waiting_and_the_hub_raises_an_alarm(broker, tmp_path: Path) -> None:  # noqa: ANN001
    # The hung node holds up to its prefetch unacknowledged, which the broker does not count as
    # ready; past the heartbeat timeout the broker drops its connection and they are ready again.
    fed = make_federation(broker, tmp_path, "node-sigstop", countries=["MEX", "IDN"])
    Deployment(tmp_path, broker.amqp_port, vhost=fed.vhost, heartbeat=HEARTBEAT).save()
    idn = spawn(tmp_path, "node", "run", "--country", "IDN")
    idn_db = create_engine(f"sqlite:///{tmp_path / 'nodes' / 'IDN' / 'node.db'}")

    def delivered() -> int:
        try:
            with idn_db.connect() as conn:
                return conn.execute(select(func.count()).select_from(message_table)
                                    .where(message_table.c.type == "note")).scalar_one()
        except Exception:  # noqa: BLE001 - the node creates its database as it starts
            return -1

    try:
        hub = await fed.start_hub(inbox_watch_interval=0.5, inbox_stall_alarm=2.0)
        mex = await fed.start_node("MEX")
        first = await mex.send("note", ["IDN"], body={"text": "before"})
        await eventually(lambda: mex.store.receipts_for(first.id), timeout=30, what="IDN up and receipting")
        idn.send_signal(signal.SIGSTOP)
        sent = [first.id] + [(await mex.send("note", ["IDN"], body={"text": f"while hung {i}"})).id for i in range(30)]
        await eventually(lambda: "inbox_stalled:IDN" in hub.alarms, timeout=15, what="the hub's alarm on IDN's inbox")
        assert delivered() == 1
        idn.send_signal(signal.SIGCONT)
        await eventually(lambda: delivered() == len(sent), timeout=30, what="every note after SIGCONT")
        await eventually(lambda: all(mex.store.receipts_for(i) for i in sent), timeout=30, what="every receipt")
        await eventually(lambda: "inbox_stalled:IDN" not in hub.alarms, timeout=15, what="the alarm cleared")
        notes = [e for e in fed.audit(type="note", limit=1000)]
        assert sorted(e["message_id"] for e in notes) == sorted(sent)
        assert all(e["verdict"] == "accepted" for e in notes)
        assert mex.store.list(direction="in", type="hub.rejection") == []
    finally:
        stop(idn)
        await fed.stop_all()
        fed.delete(broker)
