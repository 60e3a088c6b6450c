"""Lost and stolen document alerts across a real federation: replicas, checks, hits, feeds."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from crypto.signing import sign_envelope
from nodes.national.features.alerts.replica import (
    ReplicaReader, apply_versions, check_many, purge_expired, received_hits, replica, replica_counts, tombstone_number,
    versions_of,
)
from nodes.national.api import make_app
from nodes.plumbing.config import new_message_id, utcnow
from nodes.plumbing.db import make_engine
from protocol import envelope as wire
from protocol.errors import PolicyError
from tests.integration.federation import RunningFederation, eventually

pytestmark = pytest.mark.integration


def alert(issuer: str, number: str, action: str = "create", status: str = "stolen") -> dict:
    return {"document_number": number, "document_type": "passport", "issuing_country": issuer,
            "status": status, "action": action, "reported": "2026-11-20"}


def rejections_at(fed: RunningFederation, country: str) -> dict[str | None, str]:
    return {m.body["of"]: m.body["reason"] for m in fed.inbox(country, type="hub.rejection")}


class Api:
    def __init__(self, session: aiohttp.ClientSession, tokens: dict) -> None:
        self.session, self.tokens = session, tokens

    def auth(self, role: str = "focal") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def check(self, country: str, number: str, **extra: str) -> dict:
        async with self.session.get("/api/documents/check", headers=self.auth(),
                                    params={"country": country, "type": "passport", "number": number, **extra}) as r:
            assert r.status == 200, await r.text()
            return await r.json()


@pytest.fixture
async def apis(fed: RunningFederation):  # noqa: ANN201
    servers, sessions, apis = [], [], {}
    for country, node in fed.nodes.items():
        server = TestServer(make_app(node))
        await server.start_server()
        session = aiohttp.ClientSession(base_url=str(server.make_url("/")))
        servers.append(server)
        sessions.append(session)
        apis[country] = Api(session, fed.federation.credentials(country).tokens)
    yield apis
    for session in sessions:
        await session.close()
    for server in servers:
        await server.close()


async def test_create_update_withdraw_reach_every_node_and_a_hit_is_reported_to_the_issuer(
        fed: RunningFederation, apis: dict[str, Api]) -> None:
    await fed.nodes["ITA"].send("alert.document", ["*"], body=alert("ITA", "YA 123-4567"))
    for country in ("MEX", "IDN"):
        await eventually(lambda c=country: _status(fed, c, "YA1234567"), what=f"the alert at {country}")

    answer = await apis["IDN"].check("ITA", "ya1234567", point="Soekarno-Hatta T3", check="border")
    assert answer["hit"] and answer["status"] == "stolen" and answer["origin"] == "ITA"
    assert answer["alert"]["document_number"] == "YA 123-4567"  # the original number is kept
    [hit] = await eventually(lambda: received_hits(fed.nodes["ITA"].store.engine), what="the hit at ITA")
    assert (hit["checking_country"], hit["document_number"], hit["point"], hit["check_kind"], hit["message_id"]) == \
        ("IDN", "YA1234567", "Soekarno-Hatta T3", "border", answer["hit_report"])
    assert received_hits(fed.nodes["MEX"].store.engine) == []  # a hit goes to the issuer alone

    await fed.nodes["ITA"].send("alert.document", ["*"], body=alert("ITA", "YA1234567", "update", "lost"))
    for country in ("MEX", "IDN"):
        await eventually(lambda c=country: _status(fed, c, "YA1234567") == "lost", what=f"the update at {country}")
    await fed.nodes["ITA"].send("alert.document", ["*"], body=alert("ITA", "YA1234567", "withdraw", "lost"))
    for country in ("MEX", "IDN"):
        await eventually(lambda c=country: _status(fed, c, "YA1234567") is None, what=f"the withdraw at {country}")
    assert not (await apis["MEX"].check("ITA", "YA1234567"))["hit"]
    assert len(received_hits(fed.nodes["ITA"].store.engine)) == 1  # a miss reports nothing


async def test_a_batch_check_answers_each_document_and_reports_each_hit(
        fed: RunningFederation, apis: dict[str, Api]) -> None:
    await fed.nodes["ITA"].send("alert.document", ["*"], body=alert("ITA", "YA7654321", status="lost"))
    await eventually(lambda: _status(fed, "MEX", "YA7654321"), what="the alert at MEX")
    documents = [{"country": "ITA", "type": "passport", "number": "ya 765 4321"},
                 {"country": "ITA", "type": "passport", "number": "YA0000000"},
                 {"country": "IDN", "type": "visa", "number": "V1"}]
    async with apis["MEX"].session.post("/api/documents/check", headers=apis["MEX"].auth(),
                                        json={"documents": documents, "check": "police", "point": "Tijuana"}) as r:
        answer = await r.json()
    assert [a["hit"] for a in answer["results"]] == [True, False, False] and answer["hits"] == 1
    assert answer["results"][0]["status"] == "lost"
    [hit] = await eventually(lambda: received_hits(fed.nodes["ITA"].store.engine), what="the hit at ITA")
    assert (hit["checking_country"], hit["check_kind"], hit["point"]) == ("MEX", "police", "Tijuana")
    async with apis["MEX"].session.post("/api/documents/check", headers=apis["MEX"].auth(),
                                        json={"documents": [{"country": "ita", "type": "passport", "number": "1"}]}) as r:
        assert r.status == 400 and "documents[0].country" in (await r.json())["detail"]


async def test_a_batch_body_is_stored_once_inside_the_signed_bytes(fed: RunningFederation) -> None:
    # Issue 19: messages.body stays empty for a batch at the sender and at each recipient; the
    # message store still answers with the body, read from the signed bytes.
    from nodes.national.store import messages

    body = {"alerts": [alert("ITA", f"YB{i:07d}") for i in range(3)]}
    sent = await fed.nodes["ITA"].send("alert.document.batch", ["*"], body=body)
    for country in ("ITA", "MEX", "IDN"):
        node = fed.nodes[country]
        stored = await eventually(lambda n=node: n.store.get(sent.id), what=f"the batch at {country}")
        assert stored.body == body
        with node.store.engine.connect() as conn:
            row = conn.execute(select(messages.c.body, messages.c.raw).where(messages.c.message_id == sent.id)).one()
        assert row.body is None and json.loads(json.loads(row.raw)["body"]) == body
    assert [m.body for m in fed.nodes["MEX"].store.list(type="alert.document.batch")] == [body]


def _status(fed: RunningFederation, country: str, number: str) -> str | None:
    """The replica's answer at `country`, read directly (a probe must not report hits)."""
    [result] = check_many(fed.nodes[country].store.engine, [("ITA", "passport", number)], "2026-01-01")
    return result.alert["status"] if result.alert else None


async def test_batch_alerting_on_another_countrys_passport_is_rejected_audited_and_answered(
        fed: RunningFederation) -> None:
    body = {"alerts": [alert("ITA", "YA0000001"), alert("MEX", "G00000001")]}
    with pytest.raises(PolicyError):
        await fed.nodes["ITA"].send("alert.document.batch", ["*"], body=body)
    forged = sign_envelope(wire.build(message_id=new_message_id(), type="alert.document.batch", sender="ITA",
                                      recipients=["*"], created=utcnow(), ttl=timedelta(hours=1), body=body),
                           fed.federation.credentials("ITA").signing_key)
    await fed.publish_raw("ITA", wire.encode(forged))
    answers = await eventually(lambda: rejections_at(fed, "ITA"), what="hub.rejection at ITA")
    assert answers == {forged.id: "not_issuing_country"}
    assert [e["reason"] for e in fed.audit(message_id=forged.id)] == ["not_issuing_country"]
    for country in ("MEX", "IDN"):
        assert fed.inbox(country, type="alert.document.batch") == []
        assert replica_counts(fed.nodes[country].store.engine, "2026-01-01") == {}


def _feed_lines(n: int, bad_every: int) -> tuple[bytes, dict[int, str]]:
    """n NDJSON lines of MEX alerts; every `bad_every`-th is bad in one of several ways."""
    rng = random.Random(4)
    bad_kinds = [
        ("{not json", "malformed_json"),
        (json.dumps({**alert("MEX", "X"), "status": "misplaced"}), "bad_field"),
        (json.dumps({k: v for k, v in alert("MEX", "X").items() if k != "reported"}), "missing_field"),
        (json.dumps(alert("IDN", "B1")), "not_issuing_country"),
        (json.dumps({**alert("MEX", "X"), "colour": "red"}), "unknown_field"),
        (json.dumps({**alert("MEX", "X"), "status": ["stolen"]}), "bad_field"),  # was a TypeError: the whole feed failed
    ]
    lines, bad = [], {}
    for i in range(1, n + 1):
        if i % bad_every == 0:
            text, reason = rng.choice(bad_kinds)
            bad[i] = reason
            lines.append(text)
        else:
            lines.append(json.dumps(alert("MEX", f"M{i:08d}", status=rng.choice(["stolen", "lost"]))))
    return ("\n".join(lines) + "\n").encode(), bad


@pytest.mark.sqlite_speed
async def test_a_100k_alert_feed_reaches_every_node_names_each_bad_line_and_is_idempotent(
        fed: RunningFederation, apis: dict[str, Api]) -> None:
    feed, bad = _feed_lines(100_000, bad_every=100)
    good = 100_000 - len(bad)

    async def push() -> dict:
        async with apis["MEX"].session.post("/api/feeds", data=feed, headers={
                **apis["MEX"].auth("feed"), "Content-Type": "application/x-ndjson"}) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    report = await push()
    assert (report["status"], report["lines"], report["accepted"], report["rejected"], report["duplicates"]) == \
        ("done", 100_000, good, len(bad), 0)
    assert report["batches"] == -(-good // 1000)
    assert {e["line"]: e["reason"] for e in report["errors"]} == bad
    for country in ("IDN", "ITA"):
        await eventually(lambda c=country: replica_counts(fed.nodes[c].store.engine, "2026-01-01").get("MEX") == good,
                         timeout=45, what=f"every good alert at {country}")
    queued = _batches_sent(fed, "MEX")

    again = await push()
    assert (again["accepted"], again["duplicates"], again["rejected"], again["batches"]) == (0, good, len(bad), 0)
    assert _batches_sent(fed, "MEX") == queued
    for country in ("IDN", "ITA"):
        assert replica_counts(fed.nodes[country].store.engine, "2026-01-01") == {"MEX": good}
    hit = await apis["IDN"].check("MEX", "m-00000001")
    assert hit["hit"] and hit["alert"]["document_number"] == "M00000001"


def _batches_sent(fed: RunningFederation, country: str) -> int:
    return len(fed.nodes[country].store.list(direction="out", type="alert.document.batch", limit=1000))


async def test_feed_reports_bad_csv_rows_and_refuses_an_unknown_column(fed: RunningFederation,
                                                                       apis: dict[str, Api]) -> None:
    csv_feed = ("document_number,document_type,issuing_country,status,action,reported,national_reference\n"
                "P 100,passport,MEX,stolen,create,2026-11-01,\"ref, with comma\"\n"
                "P 101,passport,MEX,stolen,create,2026-13-01,\n"
                "P 102,passport,MEX\n"
                "P 103,passport,MEX,stolen,create,2026-11-01," + "R" * 20_000 + "\n").encode()
    async with apis["MEX"].session.post("/api/feeds", data=csv_feed, headers={
            **apis["MEX"].auth("feed"), "Content-Type": "text/csv"}) as r:
        report = await r.json()
    assert (report["accepted"], report["rejected"]) == (1, 3)
    assert [(e["line"], e["field"], e["reason"]) for e in report["errors"]] == [
        (3, "reported", "bad_field"), (4, "$", "malformed_csv"), (5, "$", "record_too_long")]
    async with apis["MEX"].session.get(f"/api/feeds/{report['job_id']}", headers=apis["MEX"].auth("feed")) as r:
        assert (await r.json())["accepted"] == 1
    async with apis["MEX"].session.post("/api/feeds", data=b"number,colour\n1,red\n", headers={
            **apis["MEX"].auth("feed"), "Content-Type": "text/csv"}) as r:
        assert r.status == 400 and (await r.json())["error"] == "bad_csv_header"
    async with apis["MEX"].session.post("/api/feeds", data=b"{}", headers={
            **apis["MEX"].auth("auditor"), "Content-Type": "text/csv"}) as r:
        assert r.status == 403


async def test_out_of_order_and_redelivered_versions_leave_the_replica_in_order_delivery_would(
        fed: RunningFederation, tmp_path) -> None:  # noqa: ANN001
    key = fed.federation.credentials("ITA").signing_key
    start = utcnow() - timedelta(minutes=3)
    versions = [alert("ITA", "YB0000001"), alert("ITA", "YB0000001", "update", "lost"),
                alert("ITA", "YB0000001", "withdraw", "lost"), alert("ITA", "YB0000002"),
                alert("ITA", "YB0000002", "update", "revoked")]
    envs = [sign_envelope(wire.build(message_id=new_message_id(), type="alert.document", sender="ITA",
                                     recipients=["*"], created=start + timedelta(seconds=i), ttl=timedelta(hours=1),
                                     body=body), key) for i, body in enumerate(versions)]
    for env in reversed(envs):  # newest first: every update and withdraw arrives before what it follows
        await fed.publish_raw("ITA", wire.encode(env))
    for country in ("MEX", "IDN"):
        await eventually(lambda c=country: len(fed.inbox(c, type="alert.document")) == len(envs),
                         what=f"every version at {country}")

    for country in ("MEX", "IDN"):
        key = fed.nodes[country].alerts.tombstone_key
        in_order = make_engine(f"sqlite:///{tmp_path / f'in-order-{country}.db'}")
        replica.metadata.create_all(in_order)
        with in_order.begin() as conn:
            for env, body in zip(envs, versions):
                apply_versions(conn, versions_of(env, [body]), tombstone_key=key)
        expected = _rows(in_order)
        # the withdrawn document's tombstone is keyed by the node's hash of it, not by its number
        assert sorted(r[2:4] for r in expected) == sorted(
            [(tombstone_number(key, "ITA", "passport", "YB0000001"), False), ("YB0000002", True)])
        engine = fed.nodes[country].store.engine
        assert _rows(engine) == expected
        with engine.begin() as conn:  # an effect applied twice (redelivery) changes nothing
            assert apply_versions(conn, versions_of(envs[1], [versions[1]]), tombstone_key=key) == 0
        assert _rows(engine) == expected


async def test_alerts_past_their_review_date_never_hit_and_leave_the_replica(fed: RunningFederation) -> None:
    today = utcnow().date()
    await fed.nodes["ITA"].send("alert.document", ["*"], body={**alert("ITA", "YC0000001"),
                                                                "review_date": (today - timedelta(days=1)).isoformat()})
    await fed.nodes["ITA"].send("alert.document", ["*"], body=alert("ITA", "YC0000002"))
    engine = fed.nodes["IDN"].store.engine
    await eventually(lambda: len(_rows(engine)) == 2, what="both alerts at IDN")
    [expired, current] = check_many(engine, [("ITA", "passport", "YC0000001"), ("ITA", "passport", "YC0000002")],
                                    today.isoformat())
    assert expired.alert is None and current.alert is not None
    assert purge_expired(engine, today.isoformat()) == 1
    assert [r[2] for r in _rows(engine)] == ["YC0000002"]


async def test_checks_with_bad_parameters_are_refused_with_a_reason(apis: dict[str, Api]) -> None:
    api = apis["IDN"]
    for params in ({"country": "ITA", "type": "passport"}, {"country": "it", "type": "passport", "number": "1"},
                   {"country": "ITA", "type": "library_card", "number": "1"},
                   {"country": "ITA", "type": "passport", "number": "1", "check": "curiosity"}):
        async with api.session.get("/api/documents/check", headers=api.auth(), params=params) as r:
            assert r.status == 400 and (await r.json())["error"] == "bad_request"
    async with api.session.get("/api/documents/check", headers=api.auth("feed"),
                               params={"country": "ITA", "type": "passport", "number": "1"}) as r:
        assert r.status == 403


def _rows(engine) -> list[tuple]:  # noqa: ANN001
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(replica).order_by(replica.c.number))]


@pytest.fixture(params=["sqlite", "postgresql"])
def replica_engine(request, tmp_path):  # noqa: ANN001, ANN201
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'replica.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database(tmp_path.name.lower().replace("-", "_")[:60])
    engine = make_engine(url)
    replica.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_replica_merges_checks_and_purges_alike_on_sqlite_and_postgresql(replica_engine) -> None:  # noqa: ANN001
    def version(body: dict, seconds: int) -> wire.Envelope:
        return wire.build(message_id=new_message_id(), type="alert.document", sender="ITA", recipients=["*"],
                          created=utcnow() + timedelta(seconds=seconds), ttl=timedelta(hours=1), body=body)

    old = {**alert("ITA", "YD0000003"), "review_date": "2020-01-01"}
    bodies = [(alert("ITA", "YD 000-0001"), 0), (alert("ITA", "YD0000001", "update", "lost"), 1),
              (alert("ITA", "YD0000002"), 0), (alert("ITA", "YD0000002", "withdraw"), 2), (old, 0)]
    envs = [(version(body, s), body) for body, s in bodies]
    key = b"k" * 32
    with replica_engine.begin() as conn:
        for env, body in reversed(envs):
            apply_versions(conn, versions_of(env, [body]), tombstone_key=key)
    with replica_engine.begin() as conn:  # redelivered
        assert apply_versions(conn, [v for env, body in envs for v in versions_of(env, [body])],
                              tombstone_key=key) == 0
    today = utcnow().date().isoformat()
    results = check_many(replica_engine, [("ITA", "passport", n) for n in ("yd0000001", "YD0000002", "YD0000003")],
                         today)
    assert [r.alert and r.alert["status"] for r in results] == ["lost", None, None]
    reader = ReplicaReader(replica_engine)
    try:
        single = reader.check("ITA", "passport", "YD-0000001", today)
        assert single.alert["document_number"] == "YD0000001" and single.alert["status"] == "lost"
        assert reader.check("ITA", "visa", "YD0000001", today).alert is None
    finally:
        reader.close()
    assert replica_counts(replica_engine, today) == {"ITA": 1}
    assert purge_expired(replica_engine, today) == 1
    assert len(_rows(replica_engine)) == 2  # the live alert and the tombstone


async def test_a_line_repeated_after_its_batch_was_cut_is_a_duplicate_not_a_failed_feed(
        fed: RunningFederation, apis: dict[str, Api]) -> None:
    """Within one block of lines (512 KiB), a copy of a line whose batch of 1,000 was already cut
    used to be inserted a second time into the feed's sent digests: UNIQUE failed and the whole
    feed ended `failed` ("interrupted")."""
    lines = [json.dumps(alert("MEX", f"R{i:08d}")) for i in range(1, 2501)]
    lines.append(lines[9])  # line 2,501 repeats line 10, whose batch (lines 1-1,000) is cut
    async with apis["MEX"].session.post("/api/feeds", data=("\n".join(lines) + "\n").encode(), headers={
            **apis["MEX"].auth("feed"), "Content-Type": "application/x-ndjson"}) as r:
        assert r.status == 200, await r.text()
        report = await r.json()
    assert (report["status"], report["lines"], report["accepted"], report["duplicates"], report["batches"]) == \
        ("done", 2501, 2500, 1, 3)
    for country in ("IDN", "ITA"):
        await eventually(lambda c=country: replica_counts(fed.nodes[c].store.engine, "2026-01-01").get("MEX") == 2500,
                         timeout=30, what=f"every alert once at {country}")
