"""Bounded confirm waits (issue 23): a publish is awaited in confirm batches small enough never to
outlast the confirm timeout, and a batch that times out is sent again with only what the broker
did not answer."""

from __future__ import annotations

import asyncio
import struct
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from aiormq import spec
from pamqp.commands import Basic

from nodes.plumbing import amqp
from nodes.plumbing.amqp import Outgoing, Publisher, PublishRefused, confirm_batches


@given(st.lists(st.tuples(st.integers(min_value=0, max_value=5000), st.integers(min_value=1, max_value=8)),
                max_size=200),
       st.integers(min_value=1, max_value=20), st.integers(min_value=1, max_value=20_000))
def test_confirm_batches_cover_every_message_in_order_within_both_bounds(messages, max_copies, max_bytes) -> None:
    sizes, copies = [size for size, _ in messages], [n for _, n in messages]
    runs = confirm_batches(sizes, max_copies, max_bytes, copies=copies)
    assert [i for run in runs for i in run] == list(range(len(sizes)))
    for run in runs:
        assert len(run) == 1 or sum(copies[i] for i in run) <= max_copies
        assert len(run) == 1 or sum(sizes[i] * copies[i] for i in run) <= max_bytes


def test_a_federation_wide_batch_is_split_into_bounded_confirm_batches() -> None:
    runs = confirm_batches([1000] * 21_000)  # the batch that outlasted the confirm timeout at 190 members
    assert len(runs) == -(-21_000 // amqp.CONFIRM_BATCH_MESSAGES) == 6
    assert max(len(r) for r in runs) == amqp.CONFIRM_BATCH_MESSAGES
    assert [len(r) for r in confirm_batches([9 * 1024 * 1024] * 3)] == [1, 1, 1]
    # 217 broadcasts fanned out to 189 inboxes each outlasted it too: 21 to a confirm batch (3,969 copies).
    fanned = confirm_batches([700] * 217, copies=[189] * 217)
    assert max(len(r) for r in fanned) == amqp.CONFIRM_BATCH_MESSAGES // 189 == 21
    assert sum(len(r) for r in fanned) == 217


async def test_a_fanned_out_message_counts_once_per_inbox_in_its_confirm_batch(monkeypatch) -> None:  # noqa: ANN001
    writes = _Writes(lambda attempt, message_id: True)
    monkeypatch.setattr(amqp, "_write_publishes", writes)
    monkeypatch.setattr(amqp, "CONFIRM_BATCH_MESSAGES", 10)
    to_all = tuple(f"N{i:02d}" for i in range(5))
    messages = [Outgoing(b"x", "IDN", f"m-{i}", bcc=to_all) for i in range(4)]  # 6 copies each
    assert await _publisher().publish_many(messages) == [None] * 4
    assert writes.sent == [["m-0"], ["m-1"], ["m-2"], ["m-3"]]


class _Writes:
    """Stands in for the broker: answers the messages `answer(attempt, message_id)` says, no others."""

    def __init__(self, answer) -> None:  # noqa: ANN001
        self.answer, self.sent = answer, []

    async def __call__(self, channel, exchange, items):  # noqa: ANN001, ANN204
        self.sent.append([m.message_id for m, _ in items])
        return _Answers([Basic.Ack() if self.answer(len(self.sent), m.message_id) else None for m, _ in items])


class _Answers:
    """nodes.plumbing.confirms.Confirmations as the broker above leaves it."""

    def __init__(self, answers: list) -> None:
        self.answers = answers

    async def wait(self, timeout: float) -> None:
        if None in self.answers:
            await asyncio.sleep(timeout)

    def abandon(self) -> None:
        pass


def _publisher() -> Publisher:
    async def underlay() -> object:
        return object()

    return Publisher(SimpleNamespace(get_underlay_channel=underlay), SimpleNamespace(name="node.out"), "hub")


async def test_a_timed_out_confirm_batch_sends_again_only_what_was_not_confirmed(monkeypatch) -> None:  # noqa: ANN001
    writes = _Writes(lambda attempt, message_id: attempt > 1 or message_id != "m-1")
    monkeypatch.setattr(amqp, "_write_publishes", writes)
    monkeypatch.setattr(amqp, "PUBLISH_TIMEOUT", 0.05)
    messages = [Outgoing(b"x", "IDN", f"m-{i}") for i in range(3)]
    assert await _publisher().publish_many(messages) == [None, None, None]
    assert writes.sent == [["m-0", "m-1", "m-2"], ["m-1"]]


async def test_a_message_never_confirmed_is_refused_alone_after_its_attempts(monkeypatch) -> None:  # noqa: ANN001
    writes = _Writes(lambda attempt, message_id: message_id != "m-2")
    monkeypatch.setattr(amqp, "_write_publishes", writes)
    monkeypatch.setattr(amqp, "PUBLISH_TIMEOUT", 0.05)
    monkeypatch.setattr(amqp, "CONFIRM_BATCH_MESSAGES", 2)
    results = await _publisher().publish_many([Outgoing(b"x", "IDN", f"m-{i}") for i in range(4)])
    assert results[:2] == [None, None] and results[3] is None
    assert isinstance(results[2], PublishRefused) and "did not confirm" in str(results[2])
    assert writes.sent == [["m-0", "m-1"], ["m-2", "m-3"], ["m-2"]]


def test_the_cached_bcc_encoding_is_pamqps_own() -> None:
    """BCC recipients travel in the BCC header next to the log receipt, encoded byte for byte as
    pamqp would, from a cache of one encoding per recipient set."""
    for headers, bcc in (({"x-somex-log": "r" * 300}, ("ITA", "MEX")), ({}, tuple(f"N{i:03d}" for i in range(189))),
                         ({"AAA": "sorts first", "x-somex-log": "r"}, ("ITA",))):
        ours = _publisher()._properties(Outgoing(b"x", "IDN", "m-1", headers, bcc=bcc))
        theirs = spec.Basic.Properties(
            message_id="m-1", user_id="hub", headers={**headers, "BCC": list(bcc)}, content_type="application/json",
            delivery_mode=2)
        assert ours.marshal() == theirs.marshal() == ours.marshal()  # twice: the cached entry
        flags, decoded = struct.unpack(">H", ours.marshal()[:2])[0], spec.Basic.Properties()
        decoded.unmarshal(flags, ours.marshal()[2:])
        assert decoded.headers == {**headers, "BCC": list(bcc)}
    plain = _publisher()._properties(Outgoing(b"x", "IDN", "m-1"))
    assert plain.headers == {} and type(plain) is spec.Basic.Properties


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])
