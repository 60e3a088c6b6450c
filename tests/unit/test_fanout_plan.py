"""Which copies the hub fans out through the broker as one publish (issue 23): the copies of one
message to recipients whose inbox exists and holds no parked forward; every other copy alone."""

from __future__ import annotations

from nodes.hub.relay import Copies, _Forward, _outgoing, _Publish, plan_publishes

RECEIPT = {"x-somex-log": "r"}


def _copies(seq: int, *to: str) -> Copies:
    return Copies(seq, to, f"id-{seq}", b"m", RECEIPT)


def _shape(plan: list[_Publish]) -> list[tuple]:
    return [(p.first.seq, p.first.to, p.bcc) for p in plan]


def test_one_message_to_many_recipients_is_one_publish_with_the_others_in_bcc() -> None:
    [publish] = plan_publishes([_copies(1, "IDN", "ITA", "DEU")], {"IDN", "ITA", "DEU"})
    out = _outgoing(publish)
    assert (out.routing_key, out.bcc, out.message_id, out.body, out.headers) == ("IDN", ("ITA", "DEU"), "id-1", b"m",
                                                                                 RECEIPT)
    assert [f.to for f in publish.each()] == ["IDN", "ITA", "DEU"]  # the per-recipient fallback's copies


def test_a_parked_or_unknown_recipient_gets_a_publish_of_its_own_in_order() -> None:
    forwards = [_copies(1, "IDN", "ITA", "DEU"), _copies(2, "IDN", "ITA"), _Forward(3, "DEU", "id-3", b"r", {})]
    plan = plan_publishes(forwards, {"IDN", "DEU"})  # ITA is full (parked) or its inbox is not known
    assert _shape(plan) == [(1, "IDN", ("DEU",)), (1, "ITA", ()), (2, "IDN", ()), (2, "ITA", ()), (3, "DEU", ())]


def test_nothing_to_fan_out_is_the_per_recipient_plan() -> None:
    assert _shape(plan_publishes([_copies(1, "IDN", "ITA")], set())) == [(1, "IDN", ()), (1, "ITA", ())]
    assert plan_publishes([], {"IDN"}) == []


def test_a_forward_standing_alone_is_published_as_it_is() -> None:
    parked = _Forward(4, "ITA", "id-4", b"p", RECEIPT)  # a parked row retried: its identity tells it apart
    [publish] = plan_publishes([parked], {"ITA"})
    assert publish.first is parked and publish.bcc == ()
