"""Clock skew (issue 22, fault 4): a node process run under Debian's libfaketime, against a hub and a
peer on the true clock. 2 h fast: every note refused `clock_skew`, and the node shows it as alarms
(clock and rejections); 15 min slow: the notes go through and the node raises a clock alarm before
the hub's bound is reached; 2 h slow: the node refuses to start, saying its clock is behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from nodes.plumbing.config import utcnow
from nodes.plumbing.deployment import Deployment
from nodes.plumbing.rabbit import free_port
from tests.integration.federation import RunningFederation, eventually, make_federation

# Preloaded directly, not through the `faketime` wrapper: the wrapper keeps a POSIX semaphore named
# after its pid in /dev/shm, and one left by a killed wrapper made a later one with the same pid exit 1.
LIBFAKETIME = next((p for p in Path("/usr/lib").glob("*/faketime/libfaketime.so.1")), None)
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120),
              pytest.mark.skipif(LIBFAKETIME is None, reason="needs Debian faketime (make faketime)")]
NOTES = 5


def node_with_clock(tmp_path: Path, country: str) -> list[str]:
    return [sys.executable, "-m", "nodes.app.cli", "--state-dir", str(tmp_path), "node", "run", "--country", country]


def clock_env(offset: str) -> dict[str, str]:
    # Only the wall clock is off: asyncio's timers keep the true monotonic clock.
    return {**os.environ, "LD_PRELOAD": str(LIBFAKETIME), "FAKETIME": offset, "FAKETIME_DISABLE_SHM": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


class FakedNode:
    def __init__(self, fed: RunningFederation, tmp_path: Path, country: str, offset: str) -> None:
        self.port = free_port()
        Deployment(tmp_path, fed.amqp_port, vhost=fed.vhost, node_http_ports={country: self.port}).save()
        self.log = open(tmp_path / f"{country}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(node_with_clock(tmp_path, country), env=clock_env(offset),
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.tokens = fed.federation.credentials(country).tokens
        self.session = aiohttp.ClientSession(base_url=f"http://127.0.0.1:{self.port}")

    async def get(self, path: str, token: bool = True) -> dict:
        headers = {"Authorization": f"Bearer {self.tokens['focal']}"} if token else {}
        async with self.session.get(path, headers=headers) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def up(self) -> bool:
        try:
            return (await self.get("/api/health"))["broker_connected"]
        except aiohttp.ClientError:
            return False

    async def send_note(self, to: str, text: str) -> str:
        async with self.session.post("/api/messages", headers={"Authorization": f"Bearer {self.tokens['focal']}"},
                                     json={"type": "note", "to": [to], "body": {"text": text}}) as r:
            assert r.status == 202, await r.text()
            return (await r.json())["id"]

    async def alarms(self) -> dict[str, dict]:
        return {a["reason"]: a for a in (await self.get("/api/health"))["alarms"]}

    async def close(self) -> None:
        await self.session.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
async def federation(broker, tmp_path: Path, request):  # noqa: ANN001, ANN201
    # Issued an hour ago, as a real federation's directory is: a node a little slow can start.
    fed = make_federation(broker, tmp_path, request.node.name, countries=["MEX", "IDN"],
                          issued=utcnow() - timedelta(hours=1))
    await fed.start_hub()
    await fed.start_node("IDN")
    try:
        yield fed
    finally:
        await fed.stop_all()
        fed.delete(broker)


async def test_node_two_hours_fast_has_every_note_refused_and_shows_it_as_alarms(
        federation: RunningFederation, tmp_path: Path) -> None:
    fed = federation
    mex = FakedNode(fed, tmp_path, "MEX", "+2h")
    try:
        await eventually(mex.up, timeout=30, what="MEX (2 h fast) up")
        sent = [await mex.send_note("IDN", f"note {i}") for i in range(NOTES)]
        for message_id in sent:
            await eventually(lambda m=message_id: fed.audit(message_id=m), what="the hub's verdict")
        async def all_refused() -> dict[str, dict] | None:
            alarms = await _has(mex, "clock_skew", "outgoing_rejected")
            return alarms if alarms and alarms["outgoing_rejected"]["count"] >= NOTES else None

        alarms = await eventually(all_refused, timeout=20, what="clock and rejection alarms at MEX")
        assert "ahead of the hub's" in alarms["clock_skew"]["detail"]
        assert "fix this host's clock (NTP)" in alarms["clock_skew"]["detail"]
        assert alarms["outgoing_rejected"]["rejected_reason"] == "clock_skew"
        assert alarms["outgoing_rejected"]["count"] >= NOTES  # and its cosignatures of checkpoints
        public = await mex.get("/api/health", token=False)
        assert public["status"] == "degraded" and public["alarm_count"] >= 2 and "alarms" not in public
        # Nothing lost in silence, nothing delivered twice: each note once in the log, refused, answered.
        for message_id in sent:
            assert [(e["verdict"], e["reason"]) for e in fed.audit(message_id=message_id)] == [("rejected", "clock_skew")]
            view = await eventually(lambda m=message_id: _rejected(mex, m), what="the rejection at MEX")
            assert [r["reason"] for r in view["rejections"]] == ["clock_skew"]
            assert [d["state"] for d in view["delivery"]] == ["rejected"]
        assert fed.inbox("IDN", type="note") == []
    finally:
        await mex.close()


async def test_node_fifteen_minutes_slow_raises_a_clock_alarm_while_its_notes_still_go_through(
        federation: RunningFederation, tmp_path: Path) -> None:
    fed = federation
    mex = FakedNode(fed, tmp_path, "MEX", "-15m")
    try:
        await eventually(mex.up, timeout=30, what="MEX (15 min slow) up")
        sent = [await mex.send_note("IDN", f"note {i}") for i in range(NOTES)]
        await eventually(lambda: len(fed.inbox("IDN", type="note")) == NOTES, timeout=20, what="every note at IDN")
        alarms = await eventually(lambda: _has(mex, "clock_skew"), timeout=20, what="the clock alarm at MEX")
        assert "behind the hub's" in alarms["clock_skew"]["detail"]
        assert -15 * 60 - 5 < alarms["clock_skew"]["offset_seconds"] < -14 * 60  # 15 min less the transit
        assert "outgoing_rejected" not in alarms
        assert sorted(m.message_id for m in fed.inbox("IDN", type="note")) == sorted(sent)
        for message_id in sent:
            assert [e["verdict"] for e in fed.audit(message_id=message_id)] == ["accepted"]
    finally:
        await mex.close()


async def test_node_two_hours_slow_refuses_to_start_saying_its_clock_is_behind(
        federation: RunningFederation, tmp_path: Path) -> None:
    Deployment(tmp_path, federation.amqp_port, vhost=federation.vhost).save()
    done = subprocess.run(node_with_clock(tmp_path, "MEX"), env=clock_env("-2h"), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("somex: refusing to start: not_yet_valid")
    # Issued 1 h 5 min ago (backdated 5 min), seen from 2 h behind: 55 min in this host's future.
    assert "this host's clock is at least 54 min" in lines[-1] and "behind; fix the clock (NTP)" in lines[-1]
    assert "Traceback" not in done.stderr


async def _has(node: FakedNode, *reasons: str) -> dict[str, dict] | None:
    alarms = await node.alarms()
    return alarms if all(r in alarms for r in reasons) else None


async def _rejected(node: FakedNode, message_id: str) -> dict | None:
    view = await node.get(f"/api/messages/{message_id}")
    return view if view["rejections"] else None
