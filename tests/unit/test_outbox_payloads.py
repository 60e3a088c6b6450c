"""queue_outgoing with the envelopes' clear bodies as built (a feed's batches): the same `messages`
rows as when the store parses each body back for its retention date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select

from crypto.keys import SigningKey
from crypto.signing import sign_envelope
from nodes.national.store import messages, metadata, queue_outgoing
from protocol import envelope as wire
from nodes.plumbing.config import new_message_id

CREATED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _batch(reviews: list[str | None]) -> tuple[wire.Envelope, dict]:
    alerts = [{"document_number": f"P{i:08d}", "document_type": "passport", "issuing_country": "MEX",
               "status": "stolen", "action": "create", "reported": "2026-11-20",
               **({"review_date": r} if r else {})} for i, r in enumerate(reviews)]
    body = {"alerts": alerts}
    env = wire.build(message_id=new_message_id(), type="alert.document.batch", sender="MEX", recipients=["*"],
                     created=CREATED, ttl=timedelta(days=7), body=body)
    return sign_envelope(env, SigningKey.generate()), body


@pytest.mark.parametrize("reviews", [[None], ["2030-01-01", None], ["2040-01-01"], ["2027-05-05", "2028-01-01"]])
def test_a_batch_queued_with_its_body_gets_the_retention_its_parsed_text_gives(reviews: list) -> None:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    given, parsed = _batch(reviews), _batch(reviews)
    with engine.begin() as conn:
        queue_outgoing(conn, [given[0]], [wire.encode(given[0])], "2026-11-20T10:00:00.000000Z", payloads=[given[1]])
        queue_outgoing(conn, [parsed[0]], [wire.encode(parsed[0])], "2026-11-20T10:00:00.000000Z")
        rows = dict(conn.execute(select(messages.c.message_id, messages.c.retain_until)).all())
    assert rows[given[0].id] == rows[parsed[0].id]
    expected = min(max(r or "2036-11-20" for r in reviews), "2036-11-20")
    assert rows[given[0].id] == expected


def test_payloads_must_name_one_body_per_envelope() -> None:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    env, body = _batch([None])
    with engine.begin() as conn, pytest.raises(ValueError):
        queue_outgoing(conn, [env], [wire.encode(env)], "2026-11-20T10:00:00.000000Z", payloads=[body, body])
