"""The hub's audit log on a PostgreSQL primary and synchronous standby run by pg_auto_failover
(docs/database-ha.md): the primary's host is lost mid-stream (its keeper and PostgreSQL SIGKILLed),
the monitor promotes the standby, the hub reconnects on its own and continues the same Merkle log;
nothing acknowledged is lost or logged twice, and witnesses cosign on. Then the same with the
active hub killed at the same moment (the standby hub takes over). Start-up refusals too."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select

import broker_config
from crypto.merkle import verify_consistency
from nodes.hub.audit import AuditStore
from nodes.hub.log_tables import checkpoints
from nodes.hub.relay import log_origin
from nodes.national.witness import open_alarms
from nodes.plumbing.db import make_engine
from nodes.plumbing.deployment import Deployment
from protocol.checkpoint import parse_checkpoint_body, parse_note
from tests.integration.federation import eventually, make_federation, stored_count, stream_alerts
from tests.support.pg_ha import ha_pair, missing_packages

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240),
              pytest.mark.skipif(missing_packages() is not None, reason=f"{missing_packages()}")]
TOTAL = 800


def _checkpoints(db_url: str) -> dict[int, str]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return {r.size: r.note for r in conn.execute(select(checkpoints.c.size, checkpoints.c.note))}
    finally:
        engine.dispose()


def _assert_one_log(fed, db_url: str, sent: list[str], before: dict[int, str], quorum_after: int) -> None:  # noqa: ANN001
    creds = fed.federation.credentials("HUB")
    origin = log_origin(fed.federation.directory.federation)
    engine = make_engine(db_url)
    store = AuditStore(engine, origin, creds.signing_key, origin)
    try:
        accepted = store.trail(type="alert.document", limit=10 * TOTAL)
        assert sorted(e["message_id"] for e in accepted) == sorted(sent)  # each in the log exactly once
        after = _checkpoints(db_url)
        for size, note in before.items():  # nothing signed before the kill was lost with the primary
            assert after.get(size) == note, f"checkpoint {size} signed before the failover is gone or changed"
        sizes = sorted(after)
        assert sizes[-1] > max(before), "no checkpoint was signed after the failover"
        for older, newer in zip(sizes, sizes[1:]):  # each checkpoint consistent with the next one
            root1 = parse_checkpoint_body(parse_note(after[older].encode()).body).root_hash
            root2 = parse_checkpoint_body(parse_note(after[newer].encode()).body).root_hash
            verify_consistency(older, newer, store.consistency_proof(older, newer), root1, root2)
        assert store.newest_cosigned(quorum_after) is not None and store.newest_cosigned(quorum_after) > max(before), \
            "witnesses did not cosign a checkpoint after the failover"
    finally:
        engine.dispose()


class _Hubs:
    def __init__(self, tmp_path: Path, db_url: str) -> None:
        self.tmp_path, self.db_url = tmp_path, db_url
        self.log = open(tmp_path / "hubs.log", "ab")  # noqa: SIM115
        self.processes: list[subprocess.Popen] = []

    def spawn(self) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-m", "nodes.app.cli", "--state-dir", str(self.tmp_path),
                                    "hub", "run", "--db", self.db_url],
                                   stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def kill_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


async def _failover(broker, tmp_path: Path, pair_dir: Path, name: str, with_hub: bool) -> None:  # noqa: ANN001
    started = time.monotonic()
    with ha_pair(pair_dir) as pair:  # not under tmp_path: the federation makes that 0700, closed to `postgres`
        fed = make_federation(broker, tmp_path, name, countries=["MEX", "IDN"])
        Deployment(tmp_path, broker.amqp_port, vhost=fed.vhost).save()
        db_url = pair.url()
        hubs = _Hubs(tmp_path, db_url)
        hub_in = f"/api/queues/{quote(fed.vhost, safe='')}/{broker_config.HUB_IN_QUEUE}"

        def consumers() -> int:
            return broker.api("GET", hub_in).get("consumers", 0)

        try:
            active = hubs.spawn()
            await eventually(lambda: consumers() == 1, timeout=60, what="the hub consuming hub.in")
            standby = None
            if with_hub:
                standby = hubs.spawn()
                await eventually(lambda: consumers() == 2, timeout=60, what="the standby hub waiting on hub.in")
            mex, idn = await fed.start_node("MEX"), await fed.start_node("IDN")
            # The stream in three parts, so that the hub is mid-stream whatever the machine's speed
            # (queued at once, a loaded machine's hub had relayed all 800 before the kill): the
            # first before the kill, the second queued just before it, the third after it.
            prefix = name[:2].upper()
            sent = await stream_alerts(mex, "IDN", TOTAL // 2, f"{prefix}A")

            def delivered() -> int:
                return stored_count(idn, "alert.document")

            await eventually(lambda: delivered() >= 60 and len(_checkpoints(db_url)) >= 1, timeout=60,
                             what="the stream under way and a checkpoint signed")
            primary = pair.primary()
            before = _checkpoints(db_url)
            sent += await stream_alerts(mex, "IDN", TOTAL // 2 - 50, f"{prefix}B")
            pair.kill(primary)
            if with_hub:
                active.send_signal(signal.SIGKILL)
                active.wait()
            killed_at = time.monotonic()
            sent += await stream_alerts(mex, "IDN", 50, f"{prefix}C")
            assert len(sent) == TOTAL and delivered() < TOTAL
            try:
                await eventually(lambda: pair.primary() not in (None, primary), timeout=60,
                                 what="the monitor promoting the standby")
            except AssertionError as exc:
                raise AssertionError(f"{exc}; the pair now: {pair.status()['nodes']}") from None
            promoted = time.monotonic()
            await eventually(lambda: delivered() == TOTAL, timeout=90, what="every message after the failover")
            await eventually(lambda: max(_checkpoints(db_url)) > max(before), timeout=30,
                             what="a checkpoint after the failover")
            await asyncio.sleep(2)  # a late duplicate, or a witness's alarm, shows up here
            assert delivered() == TOTAL
            for node in (mex, idn):  # witnesses saw one consistent log across the failover
                assert open_alarms(node) == []
            survivor = standby if with_hub else active
            await eventually(lambda: _assert_cosigned(db_url, max(before)), timeout=30,
                             what="witnesses cosigning a checkpoint after the failover")
            survivor.send_signal(signal.SIGTERM)
            assert survivor.wait(timeout=30) == 0
            print(f"promoted {promoted - killed_at:.1f}s after the kill; whole test {time.monotonic() - started:.1f}s")
        finally:
            hubs.kill_all()
            await fed.stop_all()
            fed.delete(broker)
        checked = time.monotonic()
        _assert_one_log(fed, db_url, sent, before, quorum_after=1)
        if not with_hub:  # the hub itself lived through the failover: it held the batch and retried
            assert "storage_unavailable" in (tmp_path / "hubs.log").read_text()
        print(f"log checked in {time.monotonic() - checked:.1f}s")
    print(f"pair down; whole test {time.monotonic() - started:.1f}s")


def _assert_cosigned(db_url: str, size: int) -> bool:
    engine = make_engine(db_url)
    try:
        from nodes.hub.log_tables import cosigned_checkpoints

        with engine.connect() as conn:
            newest = conn.execute(select(cosigned_checkpoints.c.size).where(cosigned_checkpoints.c.cosigners >= 1)
                                  .order_by(cosigned_checkpoints.c.size.desc()).limit(1)).scalar()
        return newest is not None and newest > size
    finally:
        engine.dispose()


async def test_hub_survives_the_primary_database_lost_mid_stream(broker, tmp_path, tmp_path_factory) -> None:  # noqa: ANN001
    await _failover(broker, tmp_path, tmp_path_factory.mktemp("db-ha"), "pg-failover", with_hub=False)


async def test_standby_hub_takes_over_when_the_active_hub_and_the_primary_die_together(broker, tmp_path, tmp_path_factory) -> None:  # noqa: ANN001
    await _failover(broker, tmp_path, tmp_path_factory.mktemp("db-ha"), "pg-failover-both", with_hub=True)
