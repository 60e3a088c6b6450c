"""Fuzzing the whole hub and node pipelines (issue 14, item 4), in process and without a broker.

Signed envelopes whose fields and bodies are generated (lone surrogates, control characters, huge
numbers, deep nesting within the allowed depth) are mixed into a batch with valid notes and run
through the hub's batch processing and then the recipient node's, each settled as the consumers
settle a batch (`settle_batch`). Invariant: no exception escapes, and every valid note is audited
once, forwarded once and stored once at its recipient. Bounded so that it runs in CI in seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto.signing import sign_envelope
from nodes.hub.relay import Copies, Hub, _Forward
from nodes.national.node import NationalNode
from nodes.plumbing.amqp import settle_batch
from nodes.plumbing.config import BrokerAddress, HubConfig, NodeConfig, new_message_id, utcnow
from nodes.plumbing.federation import Federation, load_federation
from nodes.app.ceremony import init_federation
from protocol import envelope as wire
from protocol.timefmt import format_time

pytestmark = pytest.mark.integration
LOG = structlog.get_logger("test.pipeline")
PIPELINE = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


class _Channel:
    is_closed = False


@dataclass
class FakeDelivery:
    """What the consumers read of an aio-pika delivery."""
    body: bytes
    user_id: str | None
    message_id: str
    headers: dict[str, Any] = field(default_factory=dict)
    redelivered: bool = False
    channel: _Channel = field(default_factory=_Channel)
    acked: int = 0

    async def ack(self, multiple: bool = False) -> None:
        self.acked += 1

    async def reject(self, requeue: bool = False) -> None:
        raise AssertionError(f"{self.message_id} would be dead-lettered")

    async def nack(self, requeue: bool = True) -> None:
        raise AssertionError(f"{self.message_id} would be requeued")


@dataclass
class Pipeline:
    federation: Federation
    hub: Hub
    idn: NationalNode
    loop: asyncio.AbstractEventLoop
    forwards: list[_Forward] = field(default_factory=list)

    def run(self, batch: list[FakeDelivery]) -> list[_Forward]:
        self.forwards.clear()

        async def through_hub_and_node() -> None:
            await settle_batch(batch, self.hub._process, self.hub._refuse_alone, LOG, self.hub.alarms)
            to_idn = [FakeDelivery(f.body, "hub", f.message_id, dict(f.headers))
                      for f in self.forwards if f.to == "IDN"]
            if to_idn:
                await settle_batch(to_idn, self.idn._receive, self.idn._refuse_alone, LOG, self.idn.alarms)

        self.loop.run_until_complete(through_hub_and_node())
        return list(self.forwards)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    path: Path = tmp_path_factory.mktemp("pipeline")
    init_federation(path / "federation", "somex-fuzz", ["MEX", "IDN", "ITA"], utcnow())
    federation = load_federation(path / "federation", utcnow())
    loop = asyncio.new_event_loop()
    hub = Hub(HubConfig(path / "federation", f"sqlite:///{path / 'audit.db'}", BrokerAddress()), federation)
    idn = NationalNode(NodeConfig("IDN", path / "federation", f"sqlite:///{path / 'IDN.db'}", BrokerAddress()),
                       federation)
    state = Pipeline(federation, hub, idn, loop)

    async def capture(forwards: list[_Forward | Copies]) -> list[_Forward]:
        """What the hub would publish, one copy per recipient (the broker makes them: issue 23)."""
        state.forwards.extend(f for item in forwards for f in (item.each() if isinstance(item, Copies) else [item]))
        return []

    hub._forward = capture  # type: ignore[method-assign]
    yield state
    loop.run_until_complete(hub.forward_records.close())  # its writer task ends with the loop, not after it
    hub.engine.dispose()
    idn.store.engine.dispose()
    loop.close()


def _delivery(federation: Federation, country: str, raw: bytes, message_id: str) -> FakeDelivery:
    return FakeDelivery(raw, federation.directory.node(country).broker_user, message_id)


def _valid_note(federation: Federation, sender: str, text: str) -> tuple[str, bytes]:
    env = sign_envelope(wire.build(message_id=new_message_id(), type="note", sender=sender, recipients=["IDN"],
                                   created=utcnow(), ttl=timedelta(hours=1), body={"text": text}),
                        federation.credentials(sender).signing_key)
    return env.id, wire.encode(env)


hostile_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=30) | st.sampled_from(
    ["\ud800", "\udfff x", "\x00\x1b[31m", "\u202e", "a" * 300])
hostile_number = st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False) | st.sampled_from(
    [2**53, -(2**53), 10**400])


def _nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


hostile_value = st.recursive(st.none() | st.booleans() | hostile_number | hostile_text,
                             lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
                             max_leaves=10) | st.builds(_nested, st.integers(1, 62), hostile_text | hostile_number)


@st.composite
def hostile_envelopes(draw: st.DrawFn, federation: Federation) -> tuple[str, bytes]:
    """A note MEX→IDN, signed by MEX over whatever members were generated (if JCS can write them)."""
    message_id = new_message_id()
    body = {"text": draw(hostile_text)} if draw(st.booleans()) else draw(hostile_value)
    body_text = json.dumps(body, ensure_ascii=True)  # a lone surrogate travels as an escape: valid UTF-8
    now = utcnow()
    members: dict[str, Any] = {
        "v": 1, "id": message_id, "type": draw(st.sampled_from(["note", "alert.hit", "case.permission", "note"])),
        "sender": "MEX", "recipients": ["IDN"], "created": format_time(now),
        "expires": format_time(now + timedelta(hours=1)),
        "handling": {"code": "H3", "condition": draw(hostile_text)} if draw(st.booleans()) else {"code": "H0"},
        "header": draw(st.dictionaries(hostile_text, hostile_value, max_size=2)) if draw(st.booleans()) else {},
        "body_digest": hashlib.sha256(body_text.encode()).hexdigest(),
    }
    if draw(st.booleans()):
        members["thread"] = draw(hostile_text)
    env = wire.Envelope(id=message_id, type=members["type"], sender="MEX", recipients=("IDN",),
                        created=members["created"], expires=members["expires"], handling=members["handling"],
                        header=members["header"], body_digest=members["body_digest"], body=body_text,
                        thread=members.get("thread"))
    try:
        sig = sign_envelope(env, federation.credentials("MEX").signing_key).sig
        assert sig is not None
        signature = sig.as_json()
    except Exception:  # noqa: BLE001 - JCS cannot write it: send it with some signature anyway
        signature = {"alg": "ed25519", "kid": "ab" * 32, "value": "AAAA"}
    raw = json.dumps({**members, "body": body_text, "sig": signature}, ensure_ascii=True).encode()
    return message_id, raw


@PIPELINE
@given(data=st.data())
def test_every_valid_message_is_delivered_once_whatever_hostile_messages_share_its_batch(
        pipeline: Pipeline, data: st.DataObject) -> None:
    federation = pipeline.federation
    valid = [_valid_note(federation, data.draw(st.sampled_from(["MEX", "ITA"])), f"valid {i}")
             for i in range(data.draw(st.integers(1, 4)))]
    hostile = data.draw(st.lists(hostile_envelopes(federation), min_size=1, max_size=4))
    batch = [_delivery(federation, "MEX" if (m, r) in hostile else json.loads(r)["sender"], r, m)
             for m, r in data.draw(st.permutations(valid + hostile))]

    logged_before = pipeline.hub.store.size
    forwards = pipeline.run(batch)

    assert all(d.acked <= 1 for d in batch)
    forwarded = Counter(f.message_id for f in forwards if f.to == "IDN")
    stored = {m.message_id for m in pipeline.idn.store.list(direction="in", limit=10_000)}
    for message_id, _ in valid:
        assert forwarded[message_id] == 1, "a valid note is forwarded exactly once"
        assert [e["verdict"] for e in pipeline.hub.store.trail(message_id=message_id)] == ["accepted"]
        assert message_id in stored
    logged = pipeline.hub.store.trail(after=logged_before - 1, limit=10_000)
    for message_id, raw in hostile:  # audited, one way or the other; the sender is told if refused
        # bytes that are not JSON (e.g. a float written as Infinity) carry no id the hub can read:
        # their entry is found by the digest of the bytes
        digest = hashlib.sha256(raw).hexdigest()
        assert len([e for e in logged if e["message_id"] == message_id or e["digest"] == digest]) == 1
    assert not pipeline.hub.alarms.open() and not pipeline.idn.alarms.open()
