"""Case information across a real federation, driven through each node's HTTP API: handling codes
enforced at the recipient, retention and withdrawal (database rows checked), search, statistics,
joint investigation threads."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from crypto.sealing import recipient_key, seal
from crypto.signing import sign_envelope
from nodes.national.features.cases import store as store
from nodes.national.api import make_app
from nodes.plumbing.config import new_message_id, utcnow
from protocol import envelope as wire
from tests.integration.federation import RunningFederation, eventually, make_federation
from tests.unit.test_cases import CASE

pytestmark = pytest.mark.integration

H2 = {"code": "H2", "retention_days": 30}


class Focal:
    """A focal point at one country's node, over the node's real HTTP API."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self.session, self.base = session, base
        self.headers = {"Authorization": f"Bearer {token}", "X-Somex-Officer": "inspector 7"}

    async def call(self, method: str, path: str, body: Any = None, **params: str) -> tuple[int, Any]:
        async with self.session.request(method, self.base + path, json=body, params=params,
                                        headers=self.headers) as r:
            if r.content_type == "text/csv":
                return r.status, await r.text()
            return r.status, await r.json()

    async def ok(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        status, answer = await self.call(method, path, body, **params)
        assert status < 300, (status, answer)
        return answer

    async def case_id(self, reference: str, provider: str) -> int | None:
        held = (await self.ok("GET", "/api/cases"))["cases"]
        return next((c["id"] for c in held if c["reference"] == reference and c["provider"] == provider), None)

    async def wait_for_case(self, reference: str, provider: str) -> int:
        return await eventually(lambda: self.case_id(reference, provider), what=f"case {reference} at {self.base}")


async def focal_points(fed: RunningFederation) -> AsyncIterator[dict[str, Focal]]:
    servers = {c: TestServer(make_app(node)) for c, node in fed.nodes.items()}
    for server in servers.values():
        await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield {c: Focal(session, str(s.make_url("")).rstrip("/"), fed.federation.credentials(c).tokens["focal"])
               for c, s in servers.items()}
    for server in servers.values():
        await server.close()


@pytest.fixture
async def focal(fed: RunningFederation) -> AsyncIterator[dict[str, Focal]]:
    async for points in focal_points(fed):
        yield points


@pytest.fixture
async def fed4(broker, tmp_path, request) -> AsyncIterator[RunningFederation]:  # noqa: ANN001
    federation = make_federation(broker, tmp_path, request.node.name, countries=["MEX", "IDN", "ITA", "FRA"])
    await federation.start_all()
    try:
        yield federation
    finally:
        await federation.stop_all()
        federation.delete(broker)


@pytest.fixture
async def focal4(fed4: RunningFederation) -> AsyncIterator[dict[str, Focal]]:
    async for points in focal_points(fed4):
        yield points


def rows(fed: RunningFederation, country: str, table: Any, *where: Any) -> int:
    with fed.nodes[country].store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def personal_rows(fed: RunningFederation, country: str, case_id: int) -> int:
    return sum(rows(fed, country, t, t.c.case_id == case_id) for t in store.PERSONAL_TABLES) + rows(
        fed, country, store.cases, store.cases.c.id == case_id)


async def test_h2_case_is_passed_on_only_after_the_providers_permission(fed4: RunningFederation, focal4) -> None:  # noqa: ANN001
    idn, mex, fra = focal4["IDN"], focal4["MEX"], focal4["FRA"]
    own = (await idn.ok("POST", "/api/cases", CASE))["id"]
    await idn.ok("POST", f"/api/cases/{own}/share", {"to": ["MEX", "ITA"], "handling": H2})
    at_mex = await mex.wait_for_case(CASE["reference"], "IDN")
    await focal4["ITA"].wait_for_case(CASE["reference"], "IDN")

    status, answer = await mex.call("POST", f"/api/cases/{at_mex}/share", {"to": ["FRA"]})
    assert (status, answer["error"]) == (403, "onward_transfer_not_permitted")
    assert not [m for m in fed4.nodes["MEX"].store.list(direction="out", type="case.share")]

    # A node that skips its own check is refused by the recipient, which cannot verify a permission.
    rogue = fed4.nodes["MEX"].build_sealed(
        "case.share", ["FRA"], {**CASE, "provenance": {"provider": "IDN", "reference": CASE["reference"],
                                                       "message_id": fed4.inbox("MEX", type="case.share")[0].message_id}},
        handling=H2)
    await fed4.nodes["MEX"].submit([rogue])
    refused = await eventually(lambda: [r for r in fed4.nodes["FRA"].store.refusals() if r["message_id"] == rogue.id],
                               what="FRA's refusal of the onward share")
    assert refused[0]["reason"] == "onward_transfer_not_permitted"
    assert rows(fed4, "FRA", store.cases) == 0 and rows(fed4, "FRA", store.persons) == 0

    status, answer = await mex.call("POST", f"/api/cases/{at_mex}/permission", {"recipient": "FRA", "to": ["ITA"]})
    assert (status, answer["error"]) == (409, "not_own_case")
    await idn.ok("POST", f"/api/cases/{own}/permission", {"recipient": "MEX", "to": ["FRA"],
                                                         "condition": "for the Marseille investigation only"})
    await eventually(lambda: rows(fed4, "MEX", store.permissions), what="IDN's permission at MEX")
    shared = await mex.ok("POST", f"/api/cases/{at_mex}/share", {"to": ["FRA"]})
    assert shared["handling"]["code"] == "H2" and shared["handling"]["retention_days"] <= 30
    history = (await mex.ok("GET", f"/api/cases/{at_mex}/history"))["history"]
    assert [(h["type"], h["direction"], h["sender"], sorted(h["recipients"])) for h in history] == [
        ("case.share", "in", "IDN", ["ITA", "MEX"]), ("case.permission", "in", "IDN", ["MEX"]),
        ("case.share", "out", "MEX", ["FRA"])]
    assert history[0]["handling"]["code"] == "H2" and history[1]["permission"]["to"] == ["FRA"]

    at_fra = await fra.wait_for_case(CASE["reference"], "IDN")
    held = await fra.ok("GET", f"/api/cases/{at_fra}")
    assert (held["provider"], held["held_from"], held["handling"]["code"]) == ("IDN", "MEX", "H2")
    assert held["provenance"]["provider"] == "IDN" and held["case"]["persons"][0]["name"] == "José Álvarez"
    status, answer = await mex.call("POST", f"/api/cases/{at_mex}/share", {"to": ["ITA"]})
    assert (status, answer["error"]) == (403, "onward_transfer_not_permitted")  # permitted for FRA only

    # The provider's withdrawal reaches the onward recipient through MEX.
    await idn.ok("POST", f"/api/cases/{own}/withdraw", {"reason": "source withdrawn"})
    for country, case_id in (("MEX", at_mex), ("FRA", at_fra)):
        await eventually(lambda c=country, i=case_id: personal_rows(fed4, c, i) == 0, what=f"withdrawal at {country}")
        [journal] = store.purge_journal(fed4.nodes[country].contexts["cases"])
        assert (journal["reason"], journal["reference"]) == ("withdrawn", CASE["reference"])
    assert rows(fed4, "FRA", store.cases) == 0 and rows(fed4, "FRA", store.carriers) == 0
    assert personal_rows(fed4, "IDN", own) > 0  # the provider keeps its own case
    history = (await idn.ok("GET", f"/api/cases/{own}/history"))["history"]
    assert [(h["type"], sorted(h["recipients"])) for h in history] == [
        ("case.share", ["ITA", "MEX"]), ("case.permission", ["MEX"]), ("case.withdraw", ["ITA", "MEX"])]


def mex_db_bytes(fed: RunningFederation) -> bytes:
    wal = fed.path / "MEX.db-wal"
    return (fed.path / "MEX.db").read_bytes() + (wal.read_bytes() if wal.exists() else b"")


@pytest.mark.sqlite_only
async def test_retention_purge_and_withdrawal_delete_the_rows_and_journal_it(fed: RunningFederation, focal) -> None:  # noqa: ANN001
    idn, mex = focal["IDN"], focal["MEX"]
    short = (await idn.ok("POST", "/api/cases", {**CASE, "reference": "IDN-SHORT"}))["id"]
    long = (await idn.ok("POST", "/api/cases", {**CASE, "reference": "IDN-LONG"}))["id"]
    await idn.ok("POST", f"/api/cases/{short}/share", {"to": ["MEX"], "handling": {"code": "H0", "retention_days": 1}})
    await idn.ok("POST", f"/api/cases/{long}/share", {"to": ["MEX"], "handling": H2})
    short_at_mex = await mex.wait_for_case("IDN-SHORT", "IDN")
    long_at_mex = await mex.wait_for_case("IDN-LONG", "IDN")
    share_ids = {m.message_id for m in fed.inbox("MEX", type="case.share")}
    assert len(share_ids) == 2 and personal_rows(fed, "MEX", short_at_mex) > 1
    assert b"Karimi" in mex_db_bytes(fed)  # held in clear by the recipient, as it must be to be searched

    assert store.purge_expired(fed.nodes["MEX"].contexts["cases"], utcnow()) == 0
    assert store.purge_expired(fed.nodes["MEX"].contexts["cases"], utcnow() + timedelta(days=1, minutes=1)) == 1
    assert personal_rows(fed, "MEX", short_at_mex) == 0
    assert personal_rows(fed, "MEX", long_at_mex) > 1
    assert len(fed.inbox("MEX", type="case.share")) == 1  # the sealed copy it came in is gone too
    [journal] = store.purge_journal(fed.nodes["MEX"].contexts["cases"])
    assert (journal["reason"], journal["reference"], journal["case_id"]) == ("retention", "IDN-SHORT", short_at_mex)
    assert "José" not in json.dumps(journal)
    assert (await mex.call("GET", f"/api/cases/{short_at_mex}"))[0] == 404

    await idn.ok("POST", f"/api/cases/{long}/withdraw", {})
    await eventually(lambda: personal_rows(fed, "MEX", long_at_mex) == 0, what="withdrawal at MEX")
    assert fed.inbox("MEX", type="case.share") == [] and rows(fed, "MEX", store.carriers) == 0
    assert [j["reason"] for j in store.purge_journal(fed.nodes["MEX"].contexts["cases"])] == ["withdrawn", "retention"]
    store.purge_expired(fed.nodes["MEX"].contexts["cases"], utcnow())  # folds SQLite's write-ahead log into the file
    assert b"Karimi" not in mex_db_bytes(fed) and b"Harapan" not in mex_db_bytes(fed)
    assert personal_rows(fed, "IDN", long) > 0 and personal_rows(fed, "IDN", short) > 0


async def test_search_finds_folded_names_and_spaced_document_numbers_with_provider_and_handling(
        fed: RunningFederation, focal) -> None:  # noqa: ANN001
    idn, ita, mex = focal["IDN"], focal["ITA"], focal["MEX"]
    case = copy.deepcopy(CASE)
    case["persons"][0]["documents"] = [{"number": "G12345678", "issuing_country": "MEX"}]
    own = (await idn.ok("POST", "/api/cases", case))["id"]
    await idn.ok("POST", f"/api/cases/{own}/share", {"to": ["MEX"], "handling": {
        "code": "H3", "retention_days": 90, "condition": "not to be passed to immigration authorities"}})
    ita_case = (await ita.ok("POST", "/api/cases", {
        "reference": "ITA-LAMP-7", "offences": [{"article": "6.1.a"}], "evaluation": {"source": "C", "information": 3},
        "persons": [{"role": "suspected", "name": "ALVAREZ, José Luis", "legal_basis": "art. 10"}],
        "events": [{"kind": "landing", "date": "2026-09-12", "maritime": {"vessel_name": "Nour", "deaths": 0}}]}))["id"]
    await ita.ok("POST", f"/api/cases/{ita_case}/share", {"to": ["MEX"], "handling": {"code": "H1", "retention_days": 90}})
    await mex.wait_for_case("IDN-2026-0042", "IDN")
    await mex.wait_for_case("ITA-LAMP-7", "ITA")

    hits = (await mex.ok("GET", "/api/cases/search", name="JOSE ALVAREZ"))["persons"]
    assert sorted((h["provider"], h["handling"]["code"], h["person"]["name"]) for h in hits) == [
        ("IDN", "H3", "José Álvarez"), ("ITA", "H1", "ALVAREZ, José Luis")]
    by_provider = {h["provider"]: h for h in hits}
    assert "Provider's condition: not to be passed to immigration authorities" in by_provider["IDN"]["notices"]
    assert by_provider["ITA"]["usable_in_judicial_proceedings"] is False
    assert any("judicial" in n for n in by_provider["ITA"]["notices"])

    [hit] = (await mex.ok("GET", "/api/cases/search", document="G 1234 5678"))["persons"]
    assert hit["person"]["name"] == "José Álvarez" and hit["provider"] == "IDN"
    [hit] = (await mex.ok("GET", "/api/cases/search", name="alvarez", dob="1979-04-02"))["persons"]
    assert hit["provider"] == "IDN"
    assert (await mex.ok("GET", "/api/cases/search", name="JOSE MARTINEZ"))["persons"] == []
    [ship] = (await mex.ok("GET", "/api/cases/search", imo="IMO 9074729"))["vessels"]
    assert ship["event"]["maritime"]["deaths"] == 2 and ship["provider"] == "IDN"
    assert [v["provider"] for v in (await mex.ok("GET", "/api/cases/search", vessel="km harapan JAYA"))["vessels"]] == ["IDN"]

    entries = (await mex.ok("GET", "/api/cases/access-log"))["entries"]
    assert {(e["who"], e["provider"]) for e in entries} == {("focal:inspector 7", "IDN"), ("focal:inspector 7", "ITA")}
    assert all(e["action"] == "search" for e in entries)
    await mex.ok("GET", f"/api/cases/{hit['id']}")
    assert (await mex.ok("GET", "/api/cases/access-log"))["entries"][0]["action"] == "read"

    # The provider adds information and shares again: the recipient's copy is replaced, not doubled.
    status, answer = await mex.call("POST", f"/api/cases/{hit['id']}/information", {"modus_operandi": ["x"]})
    assert (status, answer["error"]) == (409, "not_own_case")
    await idn.ok("POST", f"/api/cases/{own}/information", {"persons": [
        {"role": "financier", "name": "Đorđe Petrović", "legal_basis": "Protocol art. 10(1)"}]})
    await idn.ok("POST", f"/api/cases/{own}/share", {"to": ["MEX"], "handling": {"code": "H2", "retention_days": 90}})
    async def found() -> list:
        return (await mex.ok("GET", "/api/cases/search", name="DORDE PETROVIC"))["persons"]

    [added] = await eventually(found, what="the added person at MEX")
    assert (added["provider"], added["handling"]["code"], added["person"]["role"]) == ("IDN", "H2", "financier")
    assert rows(fed, "MEX", store.cases) == 2 and rows(fed, "MEX", store.persons) == 4

    stats = await mex.ok("GET", "/api/cases/stats")
    assert {(r["country"], r["route"], r["period"], r["deaths"], r["interceptions"]) for r in stats["rows"]} == {
        ("IDN", "IDN>AUS", "2026-10", 2, 1), ("ITA", "unknown", "2026-09", 0, 0)}
    status, text = await mex.call("GET", "/api/cases/stats", format="csv")
    assert status == 200 and text.splitlines()[0] == ",".join(store.rules.STAT_COLUMNS)
    assert "2026-10,IDN,IDN>AUS,1,3,2,1,41,2,1" in text.splitlines()


async def test_bad_case_input_gets_a_typed_reason(focal) -> None:  # noqa: ANN001
    idn = focal["IDN"]
    migrant_suspect = copy.deepcopy(CASE)
    migrant_suspect["persons"][1]["role"] = "facilitator"
    status, answer = await idn.call("POST", "/api/cases", migrant_suspect)
    assert (status, answer["error"]) == (400, "smuggled_migrant_as_suspect")
    own = (await idn.ok("POST", "/api/cases", CASE))["id"]
    for body, reason in [({"to": ["MEX"]}, "bad_request"),
                         ({"to": ["MEX"], "handling": {"code": "H2"}}, "retention_required"),
                         ({"to": ["MEX"], "handling": {"code": "H3", "retention_days": 5}}, "condition_required"),
                         ({"to": ["FRA"], "handling": H2}, "unknown_recipient"),
                         ({"to": ["MEX"], "handling": {"code": "H9", "retention_days": 5}}, "bad_handling")]:
        status, answer = await idn.call("POST", f"/api/cases/{own}/share", body)
        assert (status, answer["error"]) == (400, reason), body
    assert (await idn.call("POST", "/api/cases", CASE))[1]["error"] == "case_exists"
    assert (await idn.call("GET", "/api/cases/999"))[0] == 404


async def test_joint_investigation_reaches_every_member_and_no_one_else(fed4: RunningFederation, focal4) -> None:  # noqa: ANN001
    members = ["IDN", "MEX", "ITA"]
    opened = await focal4["IDN"].ok("POST", "/api/jits", {"members": ["MEX", "ITA"], "title": "Timor Sea route"})
    thread = opened["thread"]
    for country in ("MEX", "ITA"):
        await eventually(lambda c=country: rows(fed4, c, store.jits), what=f"the JIT at {country}")

    own = (await focal4["IDN"].ok("POST", "/api/cases", CASE))["id"]
    shared = await focal4["IDN"].ok("POST", f"/api/cases/{own}/share", {"jit": thread, "handling": H2})
    assert sorted(shared["to"]) == ["ITA", "MEX"] and shared["thread"] == thread
    sent = []
    for country in members:
        sent.append((await focal4[country].ok("POST", f"/api/jits/{thread}/messages",
                                              {"text": f"{country}: next meeting Tuesday"}))["id"])

    for country in members:
        expected = sorted(m for m, sender in zip(sent, members) if sender != country)

        async def received(c: str = country, want: list = expected) -> bool:
            view = await focal4[c].ok("GET", f"/api/jits/{thread}")
            return sorted(m["id"] for m in view["messages"] if m["sender"] != c) == want

        await eventually(received, what=f"every later JIT message at {country}")
    for country in ("MEX", "ITA"):
        await focal4[country].wait_for_case(CASE["reference"], "IDN")

    assert [m for m in fed4.inbox("FRA") if m.type.startswith("case.")] == []
    assert rows(fed4, "FRA", store.jits) == 0 and rows(fed4, "FRA", store.cases) == 0
    status, answer = await focal4["FRA"].call("POST", f"/api/jits/{thread}/messages", {"text": "let me in"})
    assert (status, answer["error"]) == (404, "not_found")
    intruder = fed4.nodes["FRA"].build_sealed("case.message", members, {"text": "let me in"}, thread=thread)
    await fed4.nodes["FRA"].submit([intruder])
    for country in members:
        refusal = await eventually(lambda c=country: [r for r in fed4.nodes[c].store.refusals()
                                                      if r["message_id"] == intruder.id], what=f"refusal at {country}")
        assert refusal[0]["reason"] == "not_a_jit_member"
    view = await focal4["MEX"].ok("GET", f"/api/jits/{thread}")
    assert intruder.id not in {m["id"] for m in view["messages"]} and view["members"] == sorted(members)
    assert sorted(m["id"] for m in view["messages"]) == sorted(sent)  # its own message too
    assert [(c["reference"], c["provider"], c["handling"]["code"]) for c in view["cases"]] == [
        (CASE["reference"], "IDN", "H2")]
    listed = [j for j in (await focal4["ITA"].ok("GET", "/api/jits"))["jits"] if j["thread"] == thread]
    assert listed[0]["members"] == sorted(members) and listed[0]["messages"] == 3
    assert thread not in {j["thread"] for j in (await focal4["FRA"].ok("GET", "/api/jits"))["jits"]}



async def test_a_member_cannot_hijack_a_case_thread_with_a_joint_investigation(fed4: RunningFederation, focal4) -> None:  # noqa: ANN001
    # MEX opens a "joint investigation" of MEX and ITA in the thread of IDN's case, which it can
    # predict; were it accepted, ITA would refuse IDN's later shares of that case as `not_a_jit_member`.
    mex, message_id = fed4.nodes["MEX"], new_message_id()
    payload = wire.encode_payload({"members": ["ITA", "MEX"]}).encode("utf-8")
    keys = {c: recipient_key(mex.federation.directory.node(c), mex.config.sealing_suite) for c in ("ITA", "MEX")}
    sealed = seal(payload, keys, wire.seal_context("case.jit", message_id, "MEX"), suite=mex.config.sealing_suite)
    env = sign_envelope(wire.build(message_id=message_id, type="case.jit", sender="MEX", recipients=["ITA"],
                                   created=utcnow(), ttl=timedelta(hours=1), sealed=sealed,
                                   thread=f"case:IDN:{CASE['reference']}"),
                        fed4.federation.credentials("MEX").signing_key)
    await fed4.publish_raw("MEX", wire.encode(env))
    rejections = await eventually(lambda: [m for m in fed4.inbox("MEX", type="hub.rejection") if m.body["of"] == env.id],
                                  what="the hub's rejection of the hijacking case.jit")
    assert rejections[0].body["reason"] == "bad_jit_thread"

    own = (await focal4["IDN"].ok("POST", "/api/cases", CASE))["id"]
    await focal4["IDN"].ok("POST", f"/api/cases/{own}/share", {"to": ["ITA"], "handling": H2})
    await focal4["ITA"].wait_for_case(CASE["reference"], "IDN")
    assert rows(fed4, "ITA", store.jits) == 0
    assert [r for r in fed4.nodes["ITA"].store.refusals() if r["reason"] == "not_a_jit_member"] == []


async def test_a_resharer_withdrawing_its_copy_leaves_the_providers_permissions_in_force(
        fed4: RunningFederation, focal4) -> None:  # noqa: ANN001
    idn, mex, ita = focal4["IDN"], focal4["MEX"], focal4["ITA"]
    own = (await idn.ok("POST", "/api/cases", CASE))["id"]
    await idn.ok("POST", f"/api/cases/{own}/share", {"to": ["MEX", "ITA"], "handling": H2})
    at_mex = await mex.wait_for_case(CASE["reference"], "IDN")
    from_idn = await ita.wait_for_case(CASE["reference"], "IDN")
    await idn.ok("POST", f"/api/cases/{own}/permission", {"recipient": "ITA", "to": ["FRA"]})
    await idn.ok("POST", f"/api/cases/{own}/permission", {"recipient": "MEX", "to": ["ITA"]})
    await eventually(lambda: rows(fed4, "ITA", store.permissions), what="IDN's permission at ITA")
    await eventually(lambda: rows(fed4, "MEX", store.permissions), what="IDN's permission at MEX")

    await mex.ok("POST", f"/api/cases/{at_mex}/share", {"to": ["ITA"]})  # ITA now holds a second copy, from MEX
    await eventually(lambda: rows(fed4, "ITA", store.cases, store.cases.c.held_from == "MEX"), what="MEX's copy at ITA")
    await mex.ok("POST", f"/api/cases/{at_mex}/withdraw", {"reason": "sent by mistake"})
    await eventually(lambda: rows(fed4, "ITA", store.cases, store.cases.c.held_from == "MEX") == 0,
                     what="MEX's copy withdrawn at ITA")

    assert rows(fed4, "ITA", store.cases, store.cases.c.held_from == "IDN") == 1
    assert rows(fed4, "ITA", store.permissions, store.permissions.c.provider == "IDN") == 1
    shared = await ita.ok("POST", f"/api/cases/{from_idn}/share", {"to": ["FRA"]})
    assert shared["handling"]["code"] == "H2"
