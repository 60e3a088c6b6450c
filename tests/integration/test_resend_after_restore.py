"""A node restored from an older backup (issue 18): it gets back what its peers sent it since the
backup, each message stored once and applied once, nobody else gets anything again; forged and
replayed requests are refused and audited; and the messages it sends after the restore never
reuse an id."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from crypto.signing import sign_envelope
from nodes.app.cli import main
from nodes.national.node import NationalNode
from nodes.national.store import messages, outbox
from nodes.plumbing.config import new_message_id, utcnow
from nodes.plumbing.db import make_engine
from protocol import envelope as wire
from protocol.timefmt import format_time
from tests.integration.federation import RunningFederation, eventually, make_federation
from tests.integration.test_mla import fields, state_of

pytestmark = pytest.mark.integration


@pytest.fixture
async def fed4(broker, tmp_path, request):  # noqa: ANN001, ANN201
    federation = make_federation(broker, tmp_path, request.node.name, countries=["MEX", "ITA", "ESP", "IDN"])
    await federation.start_all()
    try:
        yield federation
    finally:
        await federation.stop_all()
        federation.delete(broker)


def _ids(url: str, direction: str = "in") -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(messages.c.message_id).where(messages.c.direction == direction)).scalars())
    finally:
        engine.dispose()


def _receipts_sent(node: NationalNode, of: str) -> int:
    with node.store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(messages).where(
            (messages.c.direction == "out") & (messages.c.type == "receipt") & (messages.c.reply_to == of))).scalar_one()


async def _restart_from(fed: RunningFederation, country: str, backup: Path, capsys) -> NationalNode:  # noqa: ANN001
    await fed.nodes.pop(country).stop()
    capsys.readouterr()
    assert main(["node", "restore", str(backup), "--country", country, "--db", fed.node_db_url(country),
                 "--state-dir", str(fed.path)]) == 0
    return await fed.start_node(country)


async def test_a_restored_node_gets_back_what_it_missed_stored_and_applied_once(
        fed4: RunningFederation, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    fed = fed4
    ita, esp, idn, mex = (fed.nodes[c] for c in ("ITA", "ESP", "IDN", "MEX"))
    held = [(await ita.send("note", ["MEX"], body={"text": "before the backup"})).id,
            (await esp.send("note", ["MEX"], body={"text": "before the backup"})).id]
    await eventually(lambda: set(held) <= set(_ids(fed.node_db_url("MEX"))), what="the first two at MEX")
    backup = tmp_path / "mex.backup"
    assert main(["node", "backup", "--country", "MEX", "--db", fed.node_db_url("MEX"), "--out", str(backup)]) == 0

    # Since the backup: 5 from ITA (an MLA request, 3 notes, one note to MEX and IDN), 2 from ESP.
    request = ita.mla.create(fields("ITA-RESEND"))["id"]
    from_ita = [request] + [(await ita.send("note", ["MEX"], body={"text": f"after {i}"})).id for i in range(3)]
    shared = (await ita.send("note", ["MEX", "IDN"], body={"text": "to MEX and IDN"})).id
    from_ita.append(shared)
    from_esp = [(await esp.send("note", ["MEX"], body={"text": f"after {i}"})).id for i in range(2)]
    lost = set(from_ita) | set(from_esp)
    assert len(lost) == 7
    # ...and one whose sent copy ITA no longer keeps (as a file chunk's once sent): it cannot come
    # back, and it must not stop the others coming back.
    not_kept = (await ita.send("note", ["MEX"], body={"text": "copy not kept"})).id
    # ...and one that expires before the restore: it cannot come back (the hub would refuse it).
    expiring = await ita.send("note", ["MEX"], body={"text": "short-lived"}, ttl=timedelta(seconds=8))
    await eventually(lambda: lost | {expiring.id, not_kept} <= set(_ids(fed.node_db_url("MEX"))), what="the 9 at MEX")
    with ita.store.engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.message_id == not_kept).values(raw=b""))
    await eventually(lambda: any(r["id"] == request for r in mex.mla.list()), what="the MLA request at MEX")
    state = state_of(mex, request)
    await eventually(lambda: _receipts_sent(idn, shared) == 1, what="IDN's receipt")
    ita_sent_before = set(_ids(fed.node_db_url("ITA"), "out"))

    await asyncio.sleep(max(0.0, (expiring.expires_at - utcnow()).total_seconds()))
    mex = await _restart_from(fed, "MEX", backup, capsys)
    said = capsys.readouterr().out
    assert "asks 3 peer(s)" in said, said

    await eventually(lambda: lost <= set(_ids(fed.node_db_url("MEX"))), timeout=30, what="the 7 back at MEX")
    await eventually(lambda: (ita.resender.resent, esp.resender.resent) == (5, 2), what="the re-sends")
    await asyncio.sleep(1.5)  # anything re-sent twice, or to anyone else, would arrive meanwhile
    assert (ita.resender.resent, esp.resender.resent, idn.resender.resent) == (5, 2, 0)  # not the 2 held
    with mex.store.engine.connect() as conn:
        stored = conn.execute(select(messages.c.message_id).where(messages.c.message_id.in_(sorted(lost)))).all()
    assert len(stored) == 7  # each once
    assert expiring.id not in _ids(fed.node_db_url("MEX"))  # expired: not re-sent (counted in ITA's log line)
    assert not_kept not in _ids(fed.node_db_url("MEX"))  # no copy to re-send (counted in ITA's log line)
    assert [r["id"] for r in mex.mla.list()].count(request) == 1 and state_of(mex, request) == state
    assert _receipts_sent(idn, shared) == 1  # IDN had it: the hub did not forward it to IDN again

    # On record: MEX's three requests, accepted; the re-sends under their original entries.
    requests = fed.audit(type="resend.request", sender="MEX")
    assert sorted(r for e in requests for r in e["recipients"]) == ["ESP", "IDN", "ITA"]
    assert {e["verdict"] for e in requests} == {"accepted"}
    for message_id in lost:
        assert [e["verdict"] for e in fed.audit(message_id=message_id)] == ["accepted"]
    # What ITA sent since: its receipts for the requests, nothing new of what MEX had.
    assert not {m for m in set(_ids(fed.node_db_url("ITA"), "out")) - ita_sent_before} & lost


async def test_forged_and_replayed_resend_requests_are_refused_and_audited(fed: RunningFederation) -> None:
    mex, ita = fed.nodes["MEX"], fed.nodes["ITA"]
    for i in range(2):
        await ita.send("note", ["MEX"], body={"text": f"sent {i}"})
    await eventually(lambda: len(fed.inbox("MEX", type="note")) == 2, what="notes at MEX")
    since, until = format_time(utcnow() - timedelta(days=365)), format_time(utcnow())

    def request(message_id: str, signer: str, body: dict) -> bytes:
        env = wire.build(message_id=message_id, type="resend.request", sender="MEX", recipients=["ITA"],
                         created=utcnow(), ttl=mex.config.message_ttl, body=body)
        return wire.encode(sign_envelope(env, fed.federation.credentials(signer).signing_key))

    # Forged: MEX's name, ITA's key (or any key but MEX's).
    forged_id = new_message_id()
    await fed.publish_raw("MEX", request(forged_id, "ITA", {"since": since, "until": until}))
    entries = await eventually(lambda: fed.audit(message_id=forged_id), what="the forged request on record")
    assert [(e["verdict"], e["reason"]) for e in entries] == [("rejected", "signer_mismatch")]

    # A window longer than 30 days: refused by the hub's policy check, on record.
    too_long = new_message_id()
    await fed.publish_raw("MEX", request(too_long, "MEX", {"since": since, "until": until}))
    entries = await eventually(lambda: fed.audit(message_id=too_long), what="the too-long request on record")
    assert [(e["verdict"], e["reason"]) for e in entries] == [("rejected", "bad_body")]

    # A genuine one, then replayed: the same bytes are forwarded again and ITA does nothing more;
    # other bytes under its id are refused `replay`.
    genuine_id = new_message_id()
    recent = format_time(utcnow() - timedelta(hours=1))
    genuine = request(genuine_id, "MEX", {"since": recent, "until": format_time(utcnow())})
    await fed.publish_raw("MEX", genuine)
    await eventually(lambda: ita.resender.resent == 2, what="ITA's re-sends")
    await fed.publish_raw("MEX", genuine)
    await fed.publish_raw("MEX", request(genuine_id, "MEX", {"since": recent, "until": format_time(utcnow())}))
    entries = await eventually(lambda: len(fed.audit(message_id=genuine_id)) == 2 and fed.audit(message_id=genuine_id),
                               what="the replay on record")
    assert [(e["verdict"], e["reason"]) for e in entries] == [("accepted", None), ("rejected", "replay")]
    await asyncio.sleep(1.5)
    assert ita.resender.resent == 2  # the same request twice: served once
    assert len(fed.inbox("MEX", type="note")) == 2


async def test_after_a_restore_new_messages_get_fresh_ids_and_unpublished_ones_are_recognised(
        fed: RunningFederation, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    mex, idn = fed.nodes["MEX"], fed.nodes["IDN"]
    before = [(await mex.send("note", ["IDN"], body={"text": f"before {i}"})).id for i in range(2)]
    await eventually(lambda: len(fed.inbox("IDN", type="note")) == 2, what="notes at IDN")
    backup = tmp_path / "mex.backup"
    assert main(["node", "backup", "--country", "MEX", "--db", fed.node_db_url("MEX"), "--out", str(backup)]) == 0
    after_backup = [(await mex.send("note", ["IDN"], body={"text": f"after the backup {i}"})).id for i in range(3)]
    await eventually(lambda: len(fed.inbox("IDN", type="note")) == 5, what="notes at IDN")

    await fed.nodes.pop("MEX").stop()
    assert main(["node", "restore", str(backup), "--country", "MEX", "--db", fed.node_db_url("MEX"),
                 "--state-dir", str(fed.path)]) == 0
    # The backup was taken between a send's commit and its publish confirm: its row is unpublished.
    engine = make_engine(fed.node_db_url("MEX"))
    with engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.message_id == before[-1]).values(published_at=None))
    engine.dispose()
    mex = await fed.start_node("MEX")
    after_restore = [(await mex.send("note", ["IDN"], body={"text": f"after the restore {i}"})).id for i in range(3)]
    await eventually(lambda: len(fed.inbox("IDN", type="note")) == 8, what="notes at IDN")

    assert len(set(after_restore)) == 3 and not set(after_restore) & set(before + after_backup)
    for message_id in after_restore:  # new messages, none refused as a replay
        assert [(e["verdict"], e["reason"]) for e in fed.audit(message_id=message_id)] == [("accepted", None)]
    # The unpublished one went out again: recognised by id (one entry, one copy at IDN, no rejection).
    assert [e["verdict"] for e in fed.audit(message_id=before[-1])] == ["accepted"]
    await eventually(lambda: _receipts_sent(idn, before[-1]) == 2, what="IDN's second receipt of the re-sent one")
    assert not fed.audit(sender="MEX", verdict="rejected")
    assert not fed.inbox("MEX", type="hub.rejection")
