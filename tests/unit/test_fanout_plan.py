"""Which forwards the hub fans out through the broker as one publish (issue 23): the copies of one
message to recipients whose inbox exists and holds no parked forward; every other forward alone."""

from __future__ import annotations

from nodes.hub.relay import _Forward, _outgoing, plan_publishes


def _f(seq: int, to: str, body: bytes = b"m", receipt: str = "r") -> _Forward:
    return _Forward(seq, to, f"id-{seq}", body, {"x-somex-log": receipt})


def test_one_message_to_many_recipients_is_one_publish_with_the_others_in_bcc() -> None:
    forwards = [_f(1, "IDN"), _f(1, "ITA"), _f(1, "DEU")]
    [group] = plan_publishes(forwards, {"IDN", "ITA", "DEU"})
    out = _outgoing(group)
    assert (out.routing_key, out.bcc, out.message_id, out.headers) == ("IDN", ("ITA", "DEU"), "id-1", {"x-somex-log": "r"})


def test_a_parked_or_unknown_recipient_gets_a_publish_of_its_own_in_order() -> None:
    forwards = [_f(1, "IDN"), _f(1, "ITA"), _f(1, "DEU"), _f(2, "IDN"), _f(2, "ITA")]
    plan = plan_publishes(forwards, {"IDN", "DEU"})  # ITA is full (parked) or its inbox is not known
    assert [[(f.seq, f.to) for f in group] for group in plan] == [
        [(1, "IDN"), (1, "DEU")], [(1, "ITA")], [(2, "IDN")], [(2, "ITA")]]


def test_copies_that_differ_in_bytes_or_receipt_are_never_merged() -> None:
    forwards = [_f(1, "IDN"), _f(1, "ITA", body=b"other"), _f(1, "DEU", receipt="other")]
    assert [len(g) for g in plan_publishes(forwards, {"IDN", "ITA", "DEU"})] == [1, 1, 1]


def test_nothing_to_fan_out_is_the_per_recipient_plan() -> None:
    forwards = [_f(1, "IDN"), _f(1, "ITA")]
    assert plan_publishes(forwards, set()) == [[forwards[0]], [forwards[1]]]
    assert plan_publishes([], {"IDN"}) == []
