"""Which copies the hub fans out through the broker as one publish (issue 23): the copies of one
message to recipients whose inbox exists and holds no parked forward; every other copy alone."""

from __future__ import annotations

from nodes.hub.forwarding import FanOut, Forwarder
from nodes.hub.relay import Copies, _Forward, _outgoing, _Publish, plan_publishes
from nodes.plumbing.amqp import PublishNacked

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


class _Store:
    def parked_counts(self) -> dict[str, int]:
        return {}


class _Publisher:
    """Records what the forwarder hands the broker; refuses (nacks) every publish that reaches `full`."""

    def __init__(self, full: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.full, self.sent = full, []

    async def publish_many(self, messages: list) -> list:  # noqa: ANN001
        self.sent.append([(m.routing_key, m.bcc) for m in messages])
        return [PublishNacked("full") if ({m.routing_key, *m.bcc} & self.full) else None for m in messages]

    async def renew(self) -> None:
        pass


def test_a_recipient_lists_split_is_worked_out_once_while_the_fan_out_set_stays() -> None:
    members = tuple(f"M{i:03d}" for i in range(190))
    fan_out = FanOut(members)
    broadcast = members[1:]
    first = fan_out.split(broadcast)
    assert first == (broadcast, ()) and fan_out.split(list(broadcast)) is first  # the same list: not again
    assert _shape(plan_publishes([_copies(1, *broadcast), _copies(2, *broadcast)], fan_out)) == [
        (1, "M001", broadcast[1:]), (2, "M001", broadcast[1:])]
    joined = (*broadcast, "NEW")  # a new member in the directory: another list, split afresh
    assert fan_out.split(joined) == (broadcast, ("NEW",))  # its inbox not seen yet: published alone
    assert fan_out.split(("M001",)) == ((), ("M001",))  # one recipient: nothing to fan out


async def test_the_forwarder_splits_afresh_when_an_inbox_fills_or_a_member_joins_or_leaves() -> None:
    forwarder = Forwarder(_Store(), None, None, 60)  # type: ignore[arg-type]
    forwarder.routable_inboxes = {"IDN", "ITA", "DEU"}
    publisher = _Publisher()
    assert await forwarder.publish(publisher, [_copies(1, "IDN", "ITA", "DEU")]) == []
    assert publisher.sent[-1] == [("IDN", ("ITA", "DEU"))]
    forwarder.parked_recipients = {"ITA"}  # ITA's inbox full: its copies stand alone
    await forwarder.publish(publisher, [_copies(2, "IDN", "ITA", "DEU")])
    assert publisher.sent[-1] == [("IDN", ("DEU",)), ("ITA", ())]
    forwarder.parked_recipients = set()
    forwarder.routable_inboxes = {"IDN", "ITA", "DEU", "FRA"}  # FRA joined, its inbox seen
    await forwarder.publish(publisher, [_copies(3, "IDN", "ITA", "DEU", "FRA")])
    assert publisher.sent[-1] == [("IDN", ("ITA", "DEU", "FRA"))]
    forwarder.routable_inboxes = {"IDN", "ITA", "FRA"}  # DEU revoked and its inbox gone
    await forwarder.publish(publisher, [_copies(4, "IDN", "ITA", "DEU", "FRA")])
    assert publisher.sent[-1] == [("IDN", ("ITA", "FRA")), ("DEU", ())]


async def test_a_full_inbox_in_a_fan_out_is_parked_alone_and_the_next_publish_leaves_it_out() -> None:
    forwarder = Forwarder(_Store(), None, None, 60)  # type: ignore[arg-type]
    forwarder.routable_inboxes = {"IDN", "ITA", "DEU"}
    publisher = _Publisher(full={"ITA"})
    refused = await forwarder.publish(publisher, [_copies(1, "IDN", "ITA", "DEU")])
    assert [(f.seq, f.to) for f in refused] == [(1, "ITA")]
    assert publisher.sent == [[("IDN", ("ITA", "DEU"))], [("IDN", ()), ("ITA", ()), ("DEU", ())]]
    await forwarder.publish(publisher, [_copies(2, "IDN", "ITA", "DEU")])  # the memo of the fuller set is not used
    assert publisher.sent[-1] == [("IDN", ("DEU",)), ("ITA", ())]
