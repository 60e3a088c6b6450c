"""MLA requests across a real federation: sealed for the requested State, provably delivered and
retrieved, a lifecycle both sides agree on, and every forgery refused with its reason."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import sys
from contextlib import asynccontextmanager
from datetime import timedelta

import aio_pika
import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

import broker_config
from crypto.sealing import seal
from nodes.national.api import make_app
from nodes.national.node import NationalNode
from nodes.plumbing.amqp import open_connection
from nodes.plumbing.deployment import Deployment
from nodes.plumbing.config import new_message_id, utcnow
from protocol import envelope as wire
from protocol import mla
from tests.integration.federation import RunningFederation, eventually

pytestmark = pytest.mark.integration

SUMMARY = "Proceeds of smuggling via Lampedusa: accounts at Banco Ficticio"


def fields(reference: str = "ITA-2026-001", **extra) -> dict:  # noqa: ANN003
    return {"requested": "MEX", "reference": reference, "kind": "mutual_legal_assistance",
            "legal_basis": ["untoc_article_18", "smuggling_of_migrants_protocol"],
            "offences": ["art6_1_a_smuggling"], "aggravating": ["art6_3_a_endangering_lives_or_safety"],
            "measures": ["financial_investigation", "asset_tracing", "freezing"], "urgency": "urgent",
            "urgency_reason": "the funds are being moved", "deadline": "2027-01-31", "summary": SUMMARY,
            "persons": [{"name": "R. Ficticio", "role": "suspect", "nationality": "MEX"}], "language": "en",
            "measure_details": {"financial_investigation": {"institution": "Banco Ficticio", "holder": "R. Ficticio"},
                                "asset_tracing": {"institution": "Banco Ficticio", "account": "MX-0042"},
                                "freezing": {"assets": "account MX-0042"}}, **extra}


@asynccontextmanager
async def focal(node: NationalNode):  # noqa: ANN201
    """A focal point's HTTP session on a node's API."""
    server = TestServer(make_app(node))
    await server.start_server()
    token = node.creds.tokens["focal"]
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url("/")),
                                         headers={"Authorization": f"Bearer {token}"}) as session:
            yield session
    finally:
        await server.close()


def state_of(node: NationalNode, request_id: str) -> str:
    return next(r["state"] for r in node.mla.list() if r["id"] == request_id)


async def forge(node: NationalNode, fed: RunningFederation, mtype: str, to: str, body: dict, header: dict, *,
                thread: str, reply_to: str | None = None, seal_for: str | None = None,
                tamper: bool = False) -> wire.Envelope:
    """What a faulty or hostile peer node could send: signed by it, checked by nobody before the hub."""
    message_id = new_message_id()
    keys = {c: X25519PublicKey.from_public_bytes(fed.federation.directory.node(c).sealing_key)
            for c in (seal_for or to, node.country)}
    sealed = seal(wire.encode_payload(body).encode(), keys, wire.seal_context(mtype, message_id, node.country))
    if tamper:
        head, ciphertext = sealed.split(".")
        sealed = head + "." + ("A" if ciphertext[0] != "A" else "B") + ciphertext[1:]
    env = node.sign(wire.build(message_id=message_id, type=mtype, sender=node.country, recipients=[to],
                               created=utcnow(), ttl=timedelta(hours=1), sealed=sealed, header=header,
                               thread=thread, reply_to=reply_to))
    await node.submit([env])
    return env


def refusal_of(node: NationalNode, message_id: str) -> dict | None:
    return next((r for r in node.store.refusals() if r["message_id"] == message_id), None)


async def peek_inbox(fed: RunningFederation, country: str) -> bytes:
    """The bytes the broker holds for a node, read with that node's own account and put back."""
    connection = await open_connection(fed.url_for(country), timeout=10)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(broker_config.inbox_queue(country), ensure=False)

        async def one() -> aio_pika.abc.AbstractIncomingMessage | None:
            return await queue.get(no_ack=False, fail=False)

        message = await eventually(one, what=f"a message waiting in {country}'s inbox")
        body = message.body
        await message.nack(requeue=True)
        return body


async def test_request_with_5_mb_attachment_reaches_mex_intact_sealed_everywhere_and_ita_sees_delivery_and_retrieval(
        fed: RunningFederation) -> None:
    attachment = os.urandom(5 * 1024 * 1024)
    await fed.nodes["MEX"].stop()  # so that the broker holds the message while we look at it
    async with focal(fed.nodes["ITA"]) as ita:
        form = aiohttp.FormData()
        form.add_field("request", json.dumps(fields()), content_type="application/json")
        form.add_field("attachment", attachment, filename="bank-records.bin", content_type="application/octet-stream")
        async with ita.post("/api/mla/requests", data=form) as r:
            assert r.status == 202, await r.text()
            created = await r.json()
        assert created["state"] == "submitted" and created["thread"] == "mla:ITA:ITA-2026-001"

        on_the_wire = await peek_inbox(fed, "MEX")
        await fed.start_node("MEX")
        mex = fed.nodes["MEX"]
        await eventually(lambda: [r for r in mex.mla.list() if r["id"] == created["id"]], what="the request at MEX")

        async with focal(mex) as mex_api:
            async with mex_api.get(f"/api/mla/requests/{created['id']}") as r:
                view = await r.json()
            assert view["state"] == "received" and view["request"]["summary"] == SUMMARY
            [meta] = view["request"]["attachments"]
            assert meta["sha256"] == hashlib.sha256(attachment).hexdigest() and meta["size"] == len(attachment)
            async with mex_api.get(f"/api/mla/messages/{created['id']}/attachments/0") as r:
                assert r.status == 200
                assert await r.read() == attachment

        async def delivered_and_retrieved() -> dict | None:
            async with ita.get(f"/api/mla/requests/{created['id']}") as r:
                seen = await r.json()
            kinds = {(t["what"], t["by"]) for t in seen["timeline"]}
            done = {("receipt.delivered", "MEX"), ("receipt.retrieved", "MEX")} <= kinds
            return seen if done else None

        seen = await eventually(delivered_and_retrieved, what="MEX's delivered and retrieved receipts at ITA")
    assert seen["state"] == "received" and seen["delivered_at"] and seen["retrieved_at"]

    # Neither the hub's database nor the broker's copy holds any of it in clear.
    samples = [attachment[i:i + 48] for i in range(0, len(attachment), 1024 * 1023)]
    readable = [SUMMARY.encode(), b"Banco Ficticio", *samples, *(base64.b64encode(s) for s in samples)]
    hub_db = (fed.path / "audit.db").read_bytes()
    assert not [s for s in readable if s in hub_db or s in on_the_wire]
    assert wire.decode(on_the_wire).id == created["id"]
    audited = {e["message_id"]: e["type"] for e in fed.audit(thread=created["thread"])}
    assert sorted(audited.values()) == ["mla.request", "receipt", "receipt"]


async def drive(api: aiohttp.ClientSession, request_id: str, event: str, **extra) -> tuple[int, dict]:  # noqa: ANN003
    async with api.post(f"/api/mla/requests/{request_id}/events", json={"event": event, **extra}) as r:
        return r.status, await r.json()


async def test_lifecycle_to_executed_and_to_refused_with_only_the_right_party_acting(fed: RunningFederation) -> None:
    ita, mex = fed.nodes["ITA"], fed.nodes["MEX"]
    async with focal(ita) as ita_api, focal(mex) as mex_api:
        executed = ita.mla.create(fields("ITA-EXEC"))["id"]
        refused = ita.mla.create(fields("ITA-REFUSE"))["id"]
        for rid in (executed, refused):
            await eventually(lambda r=rid: any(x["id"] == r for x in mex.mla.list()), what="requests at MEX")

        assert (await drive(ita_api, executed, "acknowledge"))[1]["error"] == "wrong_party"
        status, answer = await drive(mex_api, executed, "execute")
        assert (status, answer["error"]) == (409, "illegal_transition") and "rule executed" in answer["detail"]
        assert (await drive(mex_api, executed, "withdraw"))[1]["error"] == "wrong_party"
        for event in ("acknowledge", "start", "request_information"):
            assert (await drive(mex_api, executed, event))[0] == 202
        await eventually(lambda: state_of(ita, executed) == "additional_information_requested", what="ITA in step")
        assert (await drive(ita_api, executed, "supply_information", note="the account is 0042"))[0] == 202
        await eventually(lambda: state_of(mex, executed) == "in_progress", what="information at MEX")
        status, done = await drive(mex_api, executed, "execute", note="statements attached",
                                   attachments=[{"name": "statements.csv", "media_type": "text/csv",
                                                 "content": base64.b64encode(b"date,amount\n").decode()}])
        assert status == 202 and done["state"] == "executed"

        assert (await drive(mex_api, refused, "refuse"))[1]["error"] == "refusal_grounds"
        status, _ = await drive(mex_api, refused, "refuse", grounds=["dual_criminality_absent"], note="not an offence")
        assert status == 202
        await eventually(lambda: state_of(ita, refused) == "refused", what="refused at ITA")
        assert (await drive(ita_api, refused, "withdraw"))[1]["error"] == "illegal_transition"
        await eventually(lambda: state_of(ita, executed) == "executed", what="executed at ITA")
        async with ita_api.get(f"/api/mla/requests/{executed}") as r:
            view = await r.json()
    steps = [(t["what"], t["by"], t.get("to")) for t in view["timeline"] if not t["what"].startswith("receipt")]
    assert steps == [("submit", "ITA", "submitted"), ("deliver", "MEX", "received"),
                     ("acknowledge", "MEX", "acknowledged"), ("start", "MEX", "in_progress"),
                     ("request_information", "MEX", "additional_information_requested"),
                     ("supply_information", "ITA", "in_progress"), ("execute", "MEX", "executed")]
    answer = next(t for t in view["timeline"] if t["what"] == "execute")["message_id"]
    meta, content = ita.mla.attachment(answer, 0, "test")
    assert content == b"date,amount\n" and meta["name"] == "statements.csv"
    trail = [e["header"] for e in fed.audit(thread=mla.thread_of("ITA", "ITA-EXEC")) if e["type"] != "receipt"]
    assert [h["status"] for h in trail] == ["submitted", "acknowledged", "in_progress",
                                            "additional_information_requested", "in_progress", "executed"]
    assert {h["reference"] for h in trail} == {"ITA-EXEC"}  # what the auditor sees: headers, not contents


async def test_a_peer_acting_out_of_turn_or_out_of_role_is_refused_by_the_receiving_node(
        fed: RunningFederation) -> None:
    ita, mex = fed.nodes["ITA"], fed.nodes["MEX"]
    rid = ita.mla.create(fields("ITA-ROGUE"))["id"]
    await eventually(lambda: any(x["id"] == rid for x in mex.mla.list()), what="the request at MEX")
    thread = mla.thread_of("ITA", "ITA-ROGUE")
    parties = {"reference": "ITA-ROGUE", "requesting": "ITA", "requested": "MEX"}

    def header(event: str, status: str) -> dict:
        return {"reference": "ITA-ROGUE", "kind": "mutual_legal_assistance", "event": event, "status": status}

    # ITA answers its own request: the role rule fails at MEX before anything is stored.
    own_answer = await forge(ita, fed, "mla.response", "MEX", {**parties, "event": "execute"},
                             header("execute", "executed"), thread=thread, reply_to=rid)
    # MEX declares execution without starting: legal party, illegal transition, refused at ITA.
    too_early = await forge(mex, fed, "mla.response", "ITA", {**parties, "event": "execute"},
                            header("execute", "executed"), thread=thread, reply_to=rid)

    refused = await eventually(lambda: refusal_of(mex, own_answer.id), what="MEX refusing ITA's answer")
    assert refused["reason"] == "wrong_party" and mex.store.get(own_answer.id) is None
    refused = await eventually(lambda: refusal_of(ita, too_early.id), what="ITA refusing the early execution")
    assert refused["reason"] == "illegal_transition"
    assert state_of(ita, rid) == "received" and state_of(mex, rid) == "received"
    timeline = ita.mla.open(rid, "test")["timeline"]
    assert any(t["what"] == "execute" and t.get("refused") == "illegal_transition" for t in timeline)


async def test_recipient_down_past_the_delivery_timeout_is_not_delivered_then_repaired(
        fed: RunningFederation) -> None:
    await fed.nodes["ITA"].stop()
    ita = await fed.start_node("ITA", mla_delivery_timeout=timedelta(seconds=1), mla_sweep_interval=0.1)
    await fed.nodes["MEX"].stop()
    rid = ita.mla.create(fields("ITA-LATE"))["id"]

    await eventually(lambda: state_of(ita, rid) == "not_delivered", what="not_delivered at ITA")
    assert [r["id"] for r in ita.mla.list(state="not_delivered")] == [rid]
    await fed.start_node("MEX")
    await eventually(lambda: state_of(ita, rid) == "received", what="the status repaired by MEX's receipt")
    steps = [(t["what"], t["to"]) for t in ita.mla.timeline(rid) if t["what"] in ("delivery_timeout", "deliver")]
    assert steps == [("delivery_timeout", "not_delivered"), ("deliver", "received")]


async def test_tampered_misaddressed_and_replayed_evidence_is_rejected_with_its_reason(fed: RunningFederation) -> None:
    ita, mex = fed.nodes["ITA"], fed.nodes["MEX"]
    body = {**fields("ITA-FORGE"), "requesting": "ITA"}
    header = {"reference": "ITA-FORGE", "kind": body["kind"], "status": "submitted", "urgency": "urgent",
              "deadline": body["deadline"]}
    thread = mla.thread_of("ITA", "ITA-FORGE")
    tampered = await forge(ita, fed, "mla.request", "MEX", body, header, thread=thread, tamper=True)
    misaddressed = await forge(ita, fed, "mla.request", "MEX", body, header, thread=thread, seal_for="IDN")
    for env, reason in ((tampered, "bad_seal"), (misaddressed, "not_sealed_for_us")):
        refused = await eventually(lambda e=env: refusal_of(mex, e.id), what=f"MEX refusing ({reason})")
        assert refused["reason"] == reason and mex.store.get(env.id) is None

    rid = ita.mla.create(fields("ITA-REAL"))["id"]
    [receipt] = await eventually(lambda: mex.store.list(direction="out", type="receipt"), what="MEX's receipt")
    await eventually(lambda: state_of(ita, rid) == "received", what="delivery at ITA")
    # Another receipt under the spent id is a replay (the same bytes again are a harmless re-send).
    replayed = mex.build("receipt", ["ITA"], reply_to=rid, thread=receipt.thread, message_id=receipt.message_id,
                         body={**receipt.body, "at": receipt.created})
    await fed.publish_raw("MEX", wire.encode(replayed))
    replays = await eventually(lambda: [e for e in fed.audit(message_id=receipt.message_id)
                                        if e["verdict"] == "rejected"], what="the hub rejecting the replay")
    assert [e["reason"] for e in replays] == ["replay"]

    wrong = mex.build("receipt", ["ITA"], reply_to=rid, thread=receipt.thread,
                      body={"of": rid, "digest": "0" * 64, "kind": "retrieved", "at": receipt.created})
    await mex.submit([wrong])
    refused = await eventually(lambda: refusal_of(ita, wrong.id), what="ITA refusing a receipt for another digest")
    assert refused["reason"] == "receipt_mismatch"
    assert [r["kind"] for r in ita.store.receipts_for(rid)] == ["delivered"]


async def test_deadlines_are_listed_and_reminded_once_as_status_messages(fed: RunningFederation) -> None:
    await fed.nodes["ITA"].stop()
    ita = await fed.start_node("ITA", mla_due_soon=timedelta(days=3), mla_sweep_interval=0.1)
    mex = fed.nodes["MEX"]
    today = utcnow().date()
    overdue = ita.mla.create(fields("ITA-OVERDUE", deadline=(today - timedelta(days=1)).isoformat()))["id"]
    soon = ita.mla.create(fields("ITA-SOON", deadline=(today + timedelta(days=2)).isoformat()))["id"]
    later = ita.mla.create(fields("ITA-LATER", deadline=(today + timedelta(days=30)).isoformat()))["id"]

    def reminders_at_mex(rid: str) -> list[dict]:
        return [t for t in mex.mla.timeline(rid) if t["what"] == "remind"]

    for rid in (overdue, soon):
        await eventually(lambda r=rid: any(x["id"] == r for x in mex.mla.list()) and reminders_at_mex(r),
                         what="a reminder at MEX")
    ita.mla.sweep()
    ita.mla.sweep()
    await eventually(lambda: ita.store.outbox_depth() == 0, what="ITA's outbox drained")
    assert [len(reminders_at_mex(r)) for r in (overdue, soon, later)] == [1, 1, 0]
    for node in (ita, mex):
        assert [r["id"] for r in node.mla.list(due="overdue")] == [overdue]
        assert [r["id"] for r in node.mla.list(due="soon")] == [soon]
    assert state_of(mex, overdue) == "received"  # a reminder changes no state


async def test_bad_mla_api_calls_get_a_typed_reason_and_send_nothing(fed: RunningFederation) -> None:
    ita = fed.nodes["ITA"]
    async with focal(ita) as api:
        async def create(payload: dict) -> tuple[int, str]:
            async with api.post("/api/mla/requests", json=payload) as r:
                return r.status, (await r.json())["error"]

        assert await create(fields(kind="rendition")) == (400, "bad_body")
        assert await create(fields(urgency_reason="")) == (400, "bad_body")
        assert await create(fields(requested="FRA")) == (400, "unknown_recipient")
        assert await create(fields(requested="ITA")) == (400, "self_addressed")
        assert await create({**fields(), "attachments": [{"name": "x"}]}) == (400, "bad_request")
        form = aiohttp.FormData()
        form.add_field("request", json.dumps(fields()), content_type="application/json")
        form.add_field("attachment", b"\0" * (mla.MAX_ATTACHMENT_BYTES + 1), filename="huge.bin")
        async with api.post("/api/mla/requests", data=form) as r:
            assert (r.status, (await r.json())["error"]) == (413, "too_large")
        assert ita.store.outbox_depth() == 0 and ita.mla.list() == []

        async with api.post("/api/mla/requests", json=fields("ITA-ONCE")) as r:
            assert r.status == 202
        assert await create(fields("ITA-ONCE")) == (409, "duplicate_reference")
        async with api.get("/api/mla/requests/01a20000-0000-7000-8000-000000000000") as r:
            assert (r.status, (await r.json())["error"]) == (404, "not_found")
        rid = ita.mla.list()[0]["id"]
        async with api.post(f"/api/mla/requests/{rid}/events", json={"event": "deliver"}) as r:
            assert (r.status, (await r.json())["error"]) == (409, "unknown_event")
        async with api.post(f"/api/mla/requests/{rid}/events", json={"event": "withdraw", "why": "x"}) as r:
            assert (r.status, (await r.json())["error"]) == (400, "unknown_field")


async def test_a_node_set_to_hybrid_post_quantum_sealing_is_read_by_its_peer(fed: RunningFederation) -> None:
    from crypto.sealing import MLKEM768_X25519, sealed_suite

    await fed.nodes["ITA"].stop()
    ita = await fed.start_node("ITA", sealing_suite=MLKEM768_X25519)
    rid = ita.mla.create(fields("ITA-PQ"))["id"]
    mex = fed.nodes["MEX"]
    await eventually(lambda: any(x["id"] == rid for x in mex.mla.list()), what="the hybrid-sealed request at MEX")
    assert sealed_suite(wire.decode(mex.store.raw(rid)).sealed) == MLKEM768_X25519
    assert mex.mla.open(rid, "test")["request"]["summary"] == SUMMARY
    assert ita.mla.open(rid, "test")["request"]["summary"] == SUMMARY  # the sender's own copy


async def somex(fed: RunningFederation, *args: str) -> tuple[int, str]:
    """The operator's command line, as a separate process."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "nodes.app.cli", "--state-dir",
                                                str(fed.path), *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode:  # an API refusal: one line on stderr, the API's answer on stdout (JSON when piped)
        assert len(err.decode().strip().splitlines()) == 1 and err.startswith(b"somex: "), err
    return proc.returncode, out.decode()


async def test_the_somex_mla_cli_creates_lists_acts_shows_and_saves_attachments(fed: RunningFederation,
                                                                                tmp_path) -> None:  # noqa: ANN001
    servers = {c: TestServer(make_app(fed.nodes[c])) for c in ("ITA", "MEX")}
    for server in servers.values():
        await server.start_server()
    try:
        Deployment(fed.path, fed.amqp_port, fed.vhost, node_http_ports={c: s.port for c, s in servers.items()}).save()
        evidence = tmp_path / "records.csv"
        evidence.write_bytes(b"account,amount\nMX-0042,48000\n")
        code, out = await somex(fed, "mla", "--node", "ITA", "create", "--to", "MEX", "--reference", "ITA-CLI-1",
                                "--legal-basis", "untoc_article_18", "--offence", "art6_1_a_smuggling",
                                "--measure", "asset_tracing", "--summary", SUMMARY, "--attach", str(evidence),
                                "--language", "en", "--detail", "asset_tracing.institution=Banco Ficticio",
                                "--detail", "asset_tracing.account=MX-0042")
        assert code == 0, out
        rid = json.loads(out)["id"]
        await eventually(lambda: any(x["id"] == rid for x in fed.nodes["MEX"].mla.list()), what="request at MEX")
        code, out = await somex(fed, "mla", "--node", "MEX", "list", "--direction", "in")
        assert code == 0 and [r["reference"] for r in json.loads(out)["requests"]] == ["ITA-CLI-1"]
        code, out = await somex(fed, "mla", "--node", "MEX", "act", rid, "refuse")
        assert code == 1 and json.loads(out)["error"] == "refusal_grounds"
        code, out = await somex(fed, "mla", "--node", "MEX", "act", rid, "refuse", "--ground", "ne_bis_in_idem")
        assert code == 0 and json.loads(out)["state"] == "refused"
        saved = tmp_path / "saved.csv"
        code, out = await somex(fed, "mla", "--node", "MEX", "attachment", rid, "0", "--out", str(saved))
        assert code == 0 and saved.read_bytes() == evidence.read_bytes()
        await eventually(lambda: state_of(fed.nodes["ITA"], rid) == "refused", what="the refusal at ITA")
        code, out = await somex(fed, "mla", "--node", "ITA", "show", rid)
        assert code == 0 and json.loads(out)["request"]["attachments"][0]["name"] == "records.csv"
    finally:
        for server in servers.values():
            await server.close()


async def test_an_attachment_name_no_header_may_hold_is_still_downloaded_at_the_recipient(
        fed: RunningFederation) -> None:
    """The protocol lets a sending State name a file with DEL, quotes, a semicolon or Cyrillic
    (only `/`, `\\` and C0 are refused): the recipient's download closed the connection unanswered,
    since aiohttp refuses DEL in a header (found with issue 26's CR LF in `next`)."""
    name = 'выписка\x7f"; filename=evil.html'
    ita, mex = fed.nodes["ITA"], fed.nodes["MEX"]
    attachment = {"name": name, "media_type": "text/csv", "content": base64.b64encode(b"a,b\n").decode()}
    async with focal(ita) as api:
        async with api.post("/api/mla/requests", json={**fields("ITA-NAMES"), "attachments": [attachment]}) as r:
            assert r.status == 202, await r.text()
            created = await r.json()
    await eventually(lambda: [r for r in mex.mla.list() if r["id"] == created["id"]], what="the request at MEX")
    expected = "attachment; filename=\"__________ filename=evil.html\"; filename*=UTF-8''" \
               "%D0%B2%D1%8B%D0%BF%D0%B8%D1%81%D0%BA%D0%B0_%22%3B%20filename%3Devil.html"
    async with focal(mex) as api:
        async with api.get(f"/api/mla/messages/{created['id']}/attachments/0") as r:
            assert r.status == 200 and await r.read() == b"a,b\n"
            assert r.headers["Content-Disposition"] == expected
            assert r.headers["Content-Type"] == "application/octet-stream"  # not the sender's text/csv
    server = TestServer(make_app(mex))
    await server.start_server()
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url("/")),
                                         cookie_jar=aiohttp.CookieJar(unsafe=True)) as console:
            async with console.post("/console/login", data={"token": mex.creds.tokens["focal"]},
                                    allow_redirects=False) as r:
                assert r.status == 303
            async with console.get(f"/console/mla/messages/{created['id']}/attachments/0") as r:
                assert r.status == 200 and await r.read() == b"a,b\n"
                assert r.headers["Content-Disposition"] == expected
                assert r.headers["Content-Type"] == "application/octet-stream"
    finally:
        await server.close()
