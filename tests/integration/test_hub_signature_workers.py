"""The hub's signatures checked by a worker process while it decides (nodes/hub/signature_checks.py,
issue 19): a forged signature in a batch of good ones is refused alone, with its audit entry; a
worker killed mid-batch loses nothing and lets nothing through unchecked; the key is resolved at
decision time, so one revoked after the worker's check is refused. In process with a real worker
process and a real SQLite log, publishes faked."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import signal
from datetime import timedelta
from pathlib import Path

import pytest
import structlog

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from crypto.directory import TrustStore
from crypto.keys import raw_public
from crypto.signing import sign_envelope
from nodes.hub import signature_checks
from nodes.hub.decide import REFUSE, Context, decide, read
from nodes.hub.relay import Copies, Forward, Hub, _delivery
from nodes.plumbing.amqp import settle_batch
from nodes.plumbing.config import new_message_id, utcnow
from nodes.plumbing.federation import Federation
from protocol import envelope as wire
from tests.integration.test_pipeline_fuzz import FakeDelivery

from tests.support.hub import hub_without_broker

pytestmark = pytest.mark.integration
LOG = structlog.get_logger("test.signature_workers")


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    hub = hub_without_broker(tmp_path, "somex-verify", verify_workers=1)
    yield hub
    hub.signatures.close()
    hub.engine.dispose()


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The signed bytes of every check made in the hub's own process (not by a worker)."""
    made: list[bytes] = []
    verify = signature_checks.verify_signature

    def counted(alg: str, key, signature: bytes, data: bytes) -> None:  # noqa: ANN001
        made.append(data)
        verify(alg, key, signature, data)

    monkeypatch.setattr(signature_checks, "verify_signature", counted)
    return made


class _Reloaded:
    """A trust store whose keys are loaded anew at each lookup (as after a new directory)."""

    def __init__(self, trust: TrustStore) -> None:
        self._trust = trust

    def signer(self, kid: str, now):  # noqa: ANN001, ANN201
        node, key = self._trust.signer(kid, now)
        return node, Ed25519PublicKey.from_public_bytes(raw_public(key))


def _note(federation: Federation, forged: bool = False) -> FakeDelivery:
    env = sign_envelope(wire.build(message_id=new_message_id(), type="note", sender="MEX", recipients=["IDN"],
                                   created=utcnow(), ttl=timedelta(hours=1), body={"text": "hello"}),
                        federation.credentials("MEX").signing_key)
    if forged:  # a valid signature of other bytes: well-formed, 64 bytes, does not verify
        other = federation.credentials("MEX").signing_key.sign(b"something else")
        env = dataclasses.replace(env, sig=dataclasses.replace(env.sig, value=base64.b64encode(other).decode()))
    return FakeDelivery(wire.encode(env), federation.directory.node("MEX").broker_user, env.id)


def _verdicts(hub: Hub, batch: list[FakeDelivery]) -> list[list[tuple[str, str | None]]]:
    return [[(e["verdict"], e["reason"]) for e in hub.store.trail(message_id=d.message_id)] for d in batch]


def _batch(hub: Hub, forged_at: int, size: int = 40) -> list[FakeDelivery]:
    return [_note(hub.federation, forged=i == forged_at) for i in range(size)]


def _expected(size: int, forged_at: int) -> list[list[tuple[str, str | None]]]:
    return [[("rejected", "bad_signature")] if i == forged_at else [("accepted", None)] for i in range(size)]


def test_a_forged_signature_in_a_batch_checked_by_a_worker_is_refused_alone_with_its_entry(
        hub: Hub, in_process: list[bytes]) -> None:
    batch = _batch(hub, forged_at=17)
    asyncio.run(settle_batch(batch, hub._process, hub._refuse_alone, LOG, hub.alarms))
    assert all(d.acked for d in batch)
    assert _verdicts(hub, batch) == _expected(40, 17)
    assert len(in_process) == 1, "the worker checked the batch; only the signature it refused is checked again"
    forwarded = {f.message_id for f in hub.sent if isinstance(f, Copies)}
    assert forwarded == {d.message_id for i, d in enumerate(batch) if i != 17}
    rejections = [f for f in hub.sent if isinstance(f, Forward)]
    assert [f.to for f in rejections] == ["MEX"]  # the sender is told
    assert hub.signatures.pids(), "a worker process made the checks"


def test_a_worker_killed_mid_batch_loses_nothing_and_lets_nothing_through_unchecked(
        hub: Hub, in_process: list[bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    batch = _batch(hub, forged_at=33)  # three requests: messages 0-15, 16-31, 32-39
    submit, submitted = signature_checks.SignatureWorker.submit, []

    def answering_two(worker, checks):  # noqa: ANN001, ANN202
        submitted.append(submit(worker, checks))
        if len(submitted) == 2:  # the first two answered, then the worker stops before the third
            worker.wait(submitted[0])
            worker.wait(submitted[1])
            os.kill(worker.process.pid, signal.SIGSTOP)
        return submitted[-1]

    monkeypatch.setattr(signature_checks.SignatureWorker, "submit", answering_two)
    decide_one, decided = hub._decide, []

    def killing(reading, context, spent):  # noqa: ANN001, ANN202
        if len(decided) == 20:  # mid-batch, the third request unanswered
            os.kill(hub.signatures.pids()[0], signal.SIGKILL)
        decided.append(reading)
        return decide_one(reading, context, spent)

    hub._decide = killing  # type: ignore[method-assign]
    asyncio.run(settle_batch(batch, hub._process, hub._refuse_alone, LOG, hub.alarms))
    assert all(d.acked for d in batch)
    assert _verdicts(hub, batch) == _expected(40, 33)
    envelopes = [wire.decode(d.body) for d in batch]
    assert in_process == [e.signing_input() for e in envelopes[32:]], \
        "what the dead worker had answered was taken; all it had not was checked in-process"
    killed = hub.signatures.pids()

    monkeypatch.setattr(signature_checks.SignatureWorker, "submit", submit)
    monkeypatch.setattr(signature_checks, "RESTART_DELAY", 0)
    hub._decide = decide_one  # type: ignore[method-assign]
    in_process.clear()
    second = _batch(hub, forged_at=5, size=20)
    asyncio.run(settle_batch(second, hub._process, hub._refuse_alone, LOG, hub.alarms))
    assert _verdicts(hub, second) == _expected(20, 5)
    assert hub.signatures.pids() != killed and len(in_process) == 1, "a new worker checks the next batch"


def test_a_worker_that_answers_wrongly_is_not_believed_for_another_key_or_a_revoked_one(hub: Hub) -> None:
    """The worker's answer counts only for the key object the decision resolves, at decision time."""
    federation = hub.federation
    forged, good = _note(federation, forged=True), _note(federation)
    readings = [read(_delivery(d), "2026-12-03T00:00:00.000000Z", federation.directory) for d in (forged, good)]
    now = utcnow()
    checks = hub.signatures.start([r.envelope for r in readings], federation.trust, now)
    for made in checks._made.values():  # a worker that says yes to everything
        made.worker.wait(made.job)
        made.job.answer = b"\x01" * made.job.count

    def context(trust: TrustStore) -> Context:
        return dataclasses.replace(hub.decision_context(now, {}, checks), trust=trust)

    believed = decide(readings[0], context(federation.trust))
    assert believed.action != REFUSE, "the same key object: the (lying) answer is taken, as a real one would be"
    verdict = decide(readings[0], context(_Reloaded(federation.trust)))  # the same key as another object
    assert (verdict.action, verdict.reason) == (REFUSE, "bad_signature")
    kid = federation.credentials("MEX").signing_key.kid
    revoked = TrustStore(federation.directory, dataclasses.replace(federation.revocations, revoked=frozenset({kid})),
                         federation.trust.root_cert)
    verdict = decide(readings[1], context(revoked))  # revoked after the worker's check
    assert (verdict.action, verdict.reason) == (REFUSE, "revoked_key")
