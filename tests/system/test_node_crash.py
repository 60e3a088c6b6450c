"""A national node killed with SIGKILL while its outbox and its inbox are both full: after the
restart nothing is lost and nothing is applied twice."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from nodes.national.node import NationalNode
from nodes.national.store import messages as message_table
from nodes.national.store import outbox, receipts
from nodes.plumbing.db import make_engine
from nodes.plumbing.deployment import Deployment
from tests.integration.federation import eventually, make_federation

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(400)]
EACH_WAY = 1500


def _count(engine, table, *where) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


async def test_node_killed_with_full_outbox_and_inbox_loses_nothing_and_applies_nothing_twice(broker, tmp_path) -> None:  # noqa: ANN001
    fed = make_federation(broker, tmp_path, "node-crash", countries=["MEX", "IDN"])
    deployment = Deployment(tmp_path, broker.amqp_port, vhost=fed.vhost)
    deployment.save()
    mex_config = deployment.node_config("MEX")

    # MEX's outbox: committed before MEX's process ever runs, as after an API burst.
    offline = NationalNode(mex_config, fed.federation)
    alerts = [offline.build("alert.document", ["IDN"], body={
        "document_number": f"MX{i:07d}", "document_type": "passport", "issuing_country": "MEX",
        "status": "stolen", "action": "create", "reported": "2026-11-20"}) for i in range(EACH_WAY)]
    await offline.submit(alerts)
    offline.store.engine.dispose()

    logfile = open(tmp_path / "mex.log", "ab")  # noqa: SIM115

    def spawn_mex() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "nodes.app.cli", "--state-dir", str(tmp_path),
                                 "node", "run", "--country", "MEX"],
                                stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True)

    await fed.start_hub()
    idn = await fed.start_node("IDN")
    # MEX's inbox: notes (each answered with a signed delivery receipt) waiting in its queue.
    notes = [idn.build("note", ["MEX"], body={"text": f"note {i}"}) for i in range(EACH_WAY)]
    await idn.submit(notes)
    mex_db = make_engine(mex_config.db_url)
    idn_alerts = message_table.c.type == "alert.document"
    mex_notes = message_table.c.type == "note"
    await eventually(lambda: _count(idn.store.engine, outbox, outbox.c.published_at.is_(None)) == 0,
                     timeout=60, what="IDN's notes all queued at the broker for MEX")

    mex = spawn_mex()
    try:
        await eventually(lambda: _count(idn.store.engine, message_table, idn_alerts) >= 100
                         and _count(mex_db, message_table, mex_notes) >= 100, timeout=90,
                         what="MEX relaying and receiving")
        mex.send_signal(signal.SIGKILL)
        mex.wait()
        at_kill = (_count(idn.store.engine, message_table, idn_alerts), _count(mex_db, message_table, mex_notes))
        assert at_kill[0] < EACH_WAY or at_kill[1] < EACH_WAY, "MEX must die mid-stream for this test to mean anything"

        mex = spawn_mex()
        await eventually(lambda: _count(idn.store.engine, message_table, idn_alerts) == EACH_WAY, timeout=180,
                         what="every alert from MEX's outbox at IDN")
        await eventually(lambda: _count(mex_db, message_table, mex_notes) == EACH_WAY, timeout=180,
                         what="every note from MEX's inbox stored at MEX")
        await eventually(lambda: _count(idn.store.engine, receipts, receipts.c.by == "MEX") == EACH_WAY,
                         timeout=180, what="MEX's delivery receipt for every note at IDN")
        await asyncio.sleep(1.5)  # a late duplicate would show up here
        assert _count(idn.store.engine, message_table, idn_alerts) == EACH_WAY
        assert _count(mex_db, message_table, mex_notes) == EACH_WAY
        # Nothing stays stuck in the outbox (MEX's own cosignatures may pass through it meanwhile).
        await eventually(lambda: _count(mex_db, outbox, outbox.c.published_at.is_(None)) == 0, timeout=30,
                         what="MEX's outbox drained")
        mex.send_signal(signal.SIGTERM)
        assert mex.wait(timeout=30) == 0
    finally:
        if mex.poll() is None:
            mex.kill()
        mex_db.dispose()
        await fed.stop_all()
        fed.delete(broker)

    # Each alert was applied once at IDN: exactly the ids MEX committed, each once.
    with idn.store.engine.connect() as conn:
        got = sorted(conn.execute(select(message_table.c.message_id).where(idn_alerts)).scalars())
    assert got == sorted(a.id for a in alerts)
