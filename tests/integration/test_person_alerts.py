"""Person alerts and border checks across a real federation: an alert issued at MEX reaches the
recipients' replicas, a border check at ITA by machine-readable zone matches it across scripts and
says why, the hit goes to MEX alone, a carrier sees hit / no-hit only, a withdrawal removes it, and a
country that is not the issuer is refused by hub and node."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from datetime import timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from crypto.signing import sign_envelope
from nodes.hub.audit import AuditEntry
from nodes.national.features.alerts.replica import check_many
from nodes.national.api import make_app
from nodes.national.features.person import FEATURE
from nodes.national.features.person import cli as person_cli
from nodes.national.features.person.demo import ZONE_BIRTH, ZONE_NAME, passport_zone
from nodes.national.features.person import store as person_store
from nodes.national.reads import access_entries, open_message
from nodes.plumbing.config import new_message_id, utcnow
from protocol import envelope as wire
from protocol.mrz import check_digit
from protocol.person import name_entry
from protocol.receipts import HEADER as LOG_HEADER
from tests.integration.federation import RunningFederation, eventually, stored_count
from tests.integration.test_live_federation import _inject_to_inbox

pytestmark = pytest.mark.integration


def td3(state: str, number: str, family: str, given: str, birth: str, *, nationality: str = "LBY",
        sex: str = "M", expiry: str = "320101") -> str:
    """A TD3 zone with correct check digits (Doc 9303 part 4)."""
    line1 = f"P<{state}{family}<<{given.replace(' ', '<')}".ljust(44, "<")[:44]
    num = number.ljust(9, "<")
    personal = "<" * 14
    parts = f"{num}{check_digit(num)}", f"{birth}{check_digit(birth)}", f"{expiry}{check_digit(expiry)}"
    personal_cd = "<"
    composite = check_digit(parts[0] + parts[1] + parts[2] + personal + personal_cd)
    line2 = f"{parts[0]}{nationality}{parts[1]}{sex}{parts[2]}{personal}{personal_cd}{composite}"
    assert len(line2) == 44
    return f"{line1}\n{line2}"


def person_alert(reference: str = "MX-PA-2026/1", recipients: object = "all") -> dict:
    """A MEX alert on an Arabic name, written in Arabic; the Latin forms are computed by the node."""
    return {"action": "create", "national_reference": reference, "reported": utcnow().date().isoformat(),
            "subject": {"family_name": {"text": "حداد", "language": "ar"},
                        "given_names": {"text": "محمد", "language": "ar"},
                        "date_of_birth": "1980-05-17", "nationality": "LBY", "sex": "M"},
            "basis": "suspected", "legal_basis": "Ley General de Población art. 159", "handling_code": "H2",
            "recipients": recipients}


class Api:
    def __init__(self, session: aiohttp.ClientSession, tokens: dict) -> None:
        self.session, self.tokens = session, tokens

    async def post(self, path: str, body: dict, role: str = "focal", status: int = 200) -> dict:
        async with self.session.post(path, json=body, headers={"Authorization": f"Bearer {self.tokens[role]}"}) as r:
            assert r.status == status, await r.text()
            return await r.json()

    async def get(self, path: str, role: str = "focal", status: int = 200) -> dict:
        async with self.session.get(path, headers={"Authorization": f"Bearer {self.tokens[role]}"}) as r:
            assert r.status == status, await r.text()
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


def _replica(fed: RunningFederation, country: str) -> int:
    return person_store.replica_count(fed.nodes[country].store.engine, utcnow().date().isoformat())


async def test_alert_check_by_zone_hit_to_the_issuer_carrier_view_and_withdrawal(
        fed: RunningFederation, apis: dict[str, Api]) -> None:
    sent = await apis["MEX"].post("/api/person-alerts", person_alert(), status=202)
    # MEX also alerts on the passport the subject travels with: one check answers both
    await fed.nodes["MEX"].send("alert.document", ["*"], body={
        "document_number": "G1234567", "document_type": "passport", "issuing_country": "MEX", "status": "stolen",
        "action": "create", "reported": utcnow().date().isoformat()})
    for country in ("IDN", "ITA"):
        await eventually(lambda c=country: _replica(fed, c) == 1, what=f"the person alert at {country}")
    await eventually(lambda: check_many(fed.nodes["ITA"].store.engine, [("MEX", "passport", "G1234567")],
                                        utcnow().date().isoformat())[0].alert, what="the document alert at ITA")
    assert _replica(fed, "MEX") == 0  # the issuer's own alerts are in its national system, not the replica

    # A zone with one bad check digit: refused, the bad digit named
    good = td3("MEX", "G1234567", "HADDAD", "MOHAMED", "800517")
    line1, line2 = good.split("\n")
    bad_birth = line2[:19] + str((int(line2[19]) + 1) % 10) + line2[20:]
    refused = await apis["ITA"].post("/api/border/check", {"mrz": f"{line1}\n{bad_birth}"}, status=400)
    assert refused["error"] == "mrz_check_digit"
    assert [p["field"] for p in refused["problems"]] == ["birth_date", "composite"]

    # The good zone: the document alert and the person alert, the match scored with why
    answer = await apis["ITA"].post("/api/border/check", {"mrz": good, "point": "Fiumicino T3"})
    assert answer["hit"] and answer["document"]["hit"] and answer["document"]["status"] == "stolen"
    [match] = answer["person_matches"]
    assert (match["issuer"], match["national_reference"], match["date_of_birth"]) == ("MEX", "MX-PA-2026/1", "agrees")
    assert match["score"] >= 0.86 and match["alert_form"]["method"] == "arabic without vowels"
    assert "mohamed" in match["why"] and "date of birth agrees" in match["why"]
    assert answer["mrz"]["format"] == "TD3" and answer["checked_date_of_birth"] == "1980-05-17"

    # person.hit to the issuer alone, with nothing about the traveller
    [hit] = await eventually(lambda: person_store.received_hits(fed.nodes["MEX"].store.engine), what="the hit at MEX")
    assert (hit["checking_country"], hit["national_reference"], hit["point"], hit["message_id"]) == \
        ("ITA", "MX-PA-2026/1", "Fiumicino T3", match["hit_report"])
    [message] = fed.inbox("MEX", type="person.hit")
    assert set(message.body) == {"issuer", "national_reference", "checked_at", "check", "point", "score",
                                 "date_of_birth"}
    assert "HADDAD" not in str(message.body) and "G1234567" not in str(message.body)
    assert fed.inbox("IDN", type="person.hit") == [] and person_store.received_hits(fed.nodes["IDN"].store.engine) == []

    # The check is in ITA's access log: the check log (by reference) and the read journal (the alert)
    entry = await apis["ITA"].get(f"/api/border/checks/{answer['reference']}")
    assert entry["person_matches"] == [["MEX", "MX-PA-2026/1", round(match["score"] * 100)]] and entry["document_hit"]
    journal = access_entries(fed.nodes["ITA"])
    assert [(j["purpose"], j["type"], j["sender"]) for j in journal] == [("border_check", "person.alert", "MEX")]
    assert journal[0]["message_id"] == sent["id"]

    # A carrier: hit and whom to call, never the record
    carried = await apis["ITA"].post("/api/border/check", {"mrz": good, "check": "carrier"}, role="carrier")
    assert set(carried) == {"reference", "hit", "call"} and carried["hit"]
    assert carried["reference"] in carried["call"] and "ITA" in carried["call"]
    await apis["ITA"].get(f"/api/border/checks/{carried['reference']}", role="carrier", status=403)
    await apis["ITA"].get("/api/person-alerts/hits", role="carrier", status=403)
    await apis["ITA"].post("/api/person-alerts", person_alert("X"), role="carrier", status=403)
    clear = await apis["ITA"].post("/api/border/check", {"document": {"country": "MEX", "type": "passport",
                                                                      "number": "G7654321"}, "name": "Anna Eriksson",
                                                         "date_of_birth": "1990"}, role="carrier")
    assert clear == {"reference": clear["reference"], "hit": False}

    # Withdrawn: gone from every replica; the same zone no longer matches a person
    await apis["MEX"].post("/api/person-alerts/MX-PA-2026%2F1/withdraw", {"reason": "acquitted"}, status=202)
    for country in ("IDN", "ITA"):
        await eventually(lambda c=country: _replica(fed, c) == 0, what=f"the withdrawal at {country}")
    for country in ("IDN", "ITA"):  # the stored copy of the alert is gone too; the withdrawal stays
        assert fed.nodes[country].store.get(sent["id"]) is None
        assert [m.body for m in fed.inbox(country, type="person.alert")] == [None]
    after = await apis["ITA"].post("/api/border/check", {"mrz": good})
    assert after["person_matches"] == [] and after["document"]["hit"]
    with fed.nodes["ITA"].store.engine.connect() as conn:  # a tombstone: no person data, no index entries
        [row] = conn.execute(select(person_store.person_alerts)).all()
        assert row.withdrawn and row.record is None
        assert conn.execute(select(person_store.person_alert_keys)).all() == []


async def test_cross_script_names_and_recipients_chosen_by_the_issuer(
        fed: RunningFederation, apis: dict[str, Api]) -> None:
    body = person_alert("MX-PA-2026/2", recipients=["ITA"])
    body["subject"] = {"family_name": {"text": "Жуков", "language": "ru"},
                       "given_names": {"text": "Андрей", "language": "ru"}, "date_of_birth": "1975"}
    await apis["MEX"].post("/api/person-alerts", body, status=202)
    await eventually(lambda: _replica(fed, "ITA") == 1, what="the person alert at ITA")
    answer = await apis["ITA"].post("/api/border/check", {
        "document": {"country": "DEU", "type": "passport", "number": "C01X00T47"},
        "name": "Andrej Schukow", "date_of_birth": "1975-02-03"})  # the German spelling
    [match] = answer["person_matches"]
    assert match["national_reference"] == "MX-PA-2026/2" and match["date_of_birth"] == "agrees at year"
    assert {t["alert"] for t in match["tokens"]} == {"zhukov", "andrei"}
    assert (await apis["ITA"].post("/api/border/check", {
        "document": {"country": "DEU", "type": "passport", "number": "C01X00T47"},
        "name": "Andrej Schukow", "date_of_birth": "1976"}))["person_matches"] == []  # another birth year
    assert _replica(fed, "IDN") == 0  # not a recipient
    assert fed.inbox("IDN", type="person.alert") == []
    # The stored message shows its person data through the journaled read path alone
    listed = await apis["ITA"].get("/api/messages?type=person.alert")
    [stored] = listed["messages"]
    assert stored["body"] is None and "Жуков" not in str(listed)
    shown = await apis["ITA"].get(f"/api/messages/{stored['message_id']}")
    assert "Жуков" not in str(shown)
    opened = open_message(fed.nodes["ITA"], stored["message_id"], "focal:officer 7")
    assert opened.body["subject"]["family_name"]["text"] == "Жуков"
    assert [(e["who"], e["message_id"]) for e in access_entries(fed.nodes["ITA"]) if e["purpose"] == "read"] == \
        [("focal:officer 7", stored["message_id"])]


async def test_hit_reports_held_when_the_node_stopped_go_at_its_next_start_under_the_answers_ids(
        fed: RunningFederation, apis: dict[str, Api]) -> None:
    """The answer leaves once its hit report is durable (held in the check's transaction), not once it
    is signed and queued; a node that stops (or crashes) before its reporter ran sends it at its
    next start, under the id the answer gave; a report that cannot go is dropped alone."""
    alert = await apis["MEX"].post("/api/person-alerts", person_alert(), status=202)
    await eventually(lambda: _replica(fed, "ITA") == 1, what="the person alert at ITA")
    ita = fed.nodes["ITA"]
    ita.person.reporter.hand = lambda reports: None  # the node goes down before its reporter runs
    answer = await apis["ITA"].post("/api/border/check", {"mrz": td3("MEX", "G1234567", "HADDAD", "MOHAMED", "800517")})
    [match] = answer["person_matches"]
    held = person_store.held_reports(ita.store.engine)
    assert [(r.message_id, r.type, r.recipient) for r in held] == [(match["hit_report"], "person.hit", "MEX")]
    assert stored_count(ita, "person.hit") == 0
    # Three more left held that cannot go: an issuer that is no member, a body that no longer reads,
    # an id this node already stores (the alert it received): each dropped alone, the hit still goes
    with ita.store.engine.begin() as conn:
        person_store.hold_reports(conn, [person_store.HeldReport(new_message_id(), "person.hit", "ZZZ", held[0].body),
                                         person_store.HeldReport(new_message_id(), "person.hit", "MEX", {}),
                                         person_store.HeldReport(alert["id"], "person.hit", "MEX", held[0].body)])
        conn.execute(person_store.held_hit_reports.update().where(person_store.held_hit_reports.c.body == "{}")
                     .values(body="{not json"))
    await ita.stop()
    restarted = await fed.start_node("ITA")
    [hit] = await eventually(lambda: person_store.received_hits(fed.nodes["MEX"].store.engine), what="the hit at MEX")
    assert (hit["message_id"], hit["national_reference"]) == (match["hit_report"], "MX-PA-2026/1")
    await eventually(lambda: person_store.held_reports(restarted.store.engine) == [], what="every held report released")
    assert stored_count(restarted, "person.hit") == 1


async def test_the_border_check_page_shows_a_typed_document_a_refusal_and_an_alert_without_given_names(
        fed: RunningFederation, apis: dict[str, Api]) -> None:
    """The console page as the API answers: a document typed (no zone read), a refusal without a
    list of problems, a match on an alert that gives a family name only (each once failed with 500:
    the page read keys the answer does not always have)."""
    body = person_alert("MX-PA-2026/3")
    body["subject"] = {"family_name": name_entry("Zhukov"), "date_of_birth": "1975"}
    await apis["MEX"].post("/api/person-alerts", body, status=202)
    await eventually(lambda: _replica(fed, "ITA") == 1, what="the person alert at ITA")
    server = TestServer(make_app(fed.nodes["ITA"]))
    await server.start_server()
    try:
        base = str(server.make_url("")).rstrip("/")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            token = fed.federation.credentials("ITA").tokens["focal"]
            (await s.post(f"{base}/console/login", data={"token": token}, allow_redirects=False)).close()
            async with s.get(f"{base}/console/border") as r:
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', await r.text()).group(1)
            form = {"csrf_token": csrf, "country": "DEU", "type": "passport", "number": "C01X00T47", "check": "border"}
            pages = {}
            for case, extra in (("typed", {}), ("refused", {"number": ""}),
                                ("match", {"name": "Zhukov", "date_of_birth": "1975-02-03"})):
                async with s.post(f"{base}/console/border", data={**form, **extra},
                                  headers={"Origin": base}) as r:
                    pages[case] = (r.status, await r.text())
    finally:
        await server.close()
    assert pages["typed"][0] == 200 and 'id="reference"' in pages["typed"][1], pages["typed"]
    assert "zone-read" not in pages["typed"][1]
    assert pages["refused"][0] == 400 and 'id="error-detail"' in pages["refused"][1], pages["refused"]
    assert pages["match"][0] == 200 and "MX-PA-2026/3" in pages["match"][1], pages["match"]


async def test_a_person_alert_by_a_country_that_is_not_its_issuer_is_refused_by_hub_and_node(
        fed: RunningFederation) -> None:
    body = person_alert("MX-FORGED")
    body["issuer"] = "MEX"
    body["subject"] = {"family_name": name_entry("Ivanov"), "date_of_birth": "1970"}
    forged = sign_envelope(wire.build(message_id=new_message_id(), type="person.alert", sender="IDN",
                                      recipients=["*"], created=utcnow(), ttl=timedelta(hours=1), body=body),
                           fed.federation.credentials("IDN").signing_key)
    await fed.publish_raw("IDN", wire.encode(forged))
    rejected = await eventually(lambda: [m.body for m in fed.inbox("IDN", type="hub.rejection")], what="a rejection")
    assert [(r["of"], r["reason"]) for r in rejected] == [(forged.id, "not_issuer")]
    # A careless or hostile hub that forwards it anyway, with a log receipt: the node refuses it too
    entry = AuditEntry(verdict="accepted", digest=forged.digest(), received_at=forged.created, message_id=forged.id,
                       seq=10**6, leaf_hash=bytes(32))
    await _inject_to_inbox(fed, "ITA", forged, {LOG_HEADER: fed.hub.log_receipt(entry, forged.id, forged.created)})
    await eventually(lambda: [r for r in fed.nodes["ITA"].store.refusals()
                              if r["message_id"] == forged.id and r["reason"] == "not_issuer"],
                     what="ITA refusing the forged person alert")
    assert _replica(fed, "ITA") == 0
    # ... and the node's own API refuses to send one (the focal point learns at once)
    with pytest.raises(Exception) as refused:
        fed.nodes["IDN"].build("person.alert", ["*"], body=body)
    assert getattr(refused.value, "reason", None) == "not_issuer"


async def test_the_demo_step_passes_against_a_running_federation(
        fed: RunningFederation, tmp_path, capsys) -> None:  # noqa: ANN001
    """`somex demo`'s person-alert step (declared by the feature) against this federation's nodes,
    then `somex person check` with the demo's zone: exit 3 (a hit), the match printed."""
    servers = {c: TestServer(make_app(fed.nodes[c])) for c in ("MEX", "ITA")}
    for server in servers.values():
        await server.start_server()
    said: list[str] = []

    class Demo:
        countries = ["MEX", "ITA"]

        def api(self, country: str, role: str = "focal") -> tuple[str, dict[str, str]]:
            token = fed.federation.credentials(country).tokens[role]
            return str(servers[country].make_url("/api")), {"Authorization": f"Bearer {token}"}

        def say(self, text: str = "") -> None:
            said.append(text)

        async def wait_for(self, what: str, probe):  # noqa: ANN001, ANN202
            return await eventually(probe, what=what)

    try:
        async with aiohttp.ClientSession() as session:
            checks = await FEATURE.demo_steps[0](session, Demo())
        zone = tmp_path / "zone.txt"
        zone.write_text(passport_zone("LBY", "LY1234567", *ZONE_NAME, ZONE_BIRTH, "LBY"))
        capsys.readouterr()
        code = await asyncio.to_thread(person_cli.run, argparse.Namespace(
            url=str(servers["ITA"].make_url("/")), token=fed.federation.credentials("ITA").tokens["focal"],
            mrz_file=zone, name=None, date_of_birth=None, point="CLI"))
        out = capsys.readouterr().out
        # The JSON the command printed; the in-process nodes' log lines may come before or after it.
        printed, _ = json.JSONDecoder().raw_decode(out, out.index("{\n"))
        assert code == 3 and printed["person_matches"][0]["national_reference"] == "MX-PA-DEMO-1"
    finally:
        for server in servers.values():
            await server.close()
    assert checks and all(ok for _, ok in checks), (checks, said)
    assert any("why:" in line and "arabic without vowels" in line for line in said), said
