"""Competent-authority profiles across a real federation (issue 17 part 2): each State publishes its
own, signed by its node and broadcast through the hub; every member keeps the newest serial; a
profile of another State or with an unknown language is refused at the hub and on record; an MLA
request is checked against the requested State's profile before it is sealed."""

from __future__ import annotations

import json
from datetime import timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from nodes.hub.api import make_app as make_hub_app
from nodes.national.api import make_app
from nodes.national.feature import discover
from nodes.national.node import NationalNode
from nodes.plumbing.config import new_message_id, utcnow
from nodes.plumbing.deployment import Deployment
from protocol import envelope as wire
from tests.integration.federation import RunningFederation, eventually
from tests.integration.test_mla import fields, focal, refusal_of, somex

pytestmark = pytest.mark.integration

MEX_PROFILE = {"languages": ["es", "en"], "convention_basis_for_extradition": False,
               "mla_authority": {"name": "Fiscalía General de la República", "contact": "mla@fgr.example"},
               "extradition_authority": {"name": "Secretaría de Relaciones Exteriores", "contact": "ext@sre.example"},
               "urgent_channels": ["interpol"], "notes": "Solicitudes urgentes también por INTERPOL México."}


def held(node: NationalNode, country: str) -> int | None:
    """The serial of `country`'s profile in force at `node`."""
    found = node.profiles.get(country)
    return found["serial"] if found else None


async def forge_profile(node: NationalNode, body: dict) -> wire.Envelope:
    """What a hostile or faulty member could send: signed by its own key, checked by nobody before the hub."""
    env = node.sign(wire.build(message_id=new_message_id(), type="profile.publish", sender=node.country,
                               recipients=["*"], created=utcnow(), ttl=timedelta(hours=1), body=body))
    await node.submit([env])
    return env


def audit_of(fed: RunningFederation, message_id: str) -> list[tuple[str, str | None]]:
    return [(e["verdict"], e["reason"]) for e in fed.audit(message_id=message_id)]


async def test_a_profile_reaches_every_member_and_the_newest_serial_wins(fed: RunningFederation) -> None:
    mex, ita, idn = fed.nodes["MEX"], fed.nodes["ITA"], fed.nodes["IDN"]
    async with focal(mex) as api:
        async with api.post("/api/profiles", json=MEX_PROFILE) as r:
            assert r.status == 202, await r.text()
            first = await r.json()
    assert first["serial"] == 1 and first["country"] == "MEX"
    await eventually(lambda: held(ita, "MEX") == 1 and held(idn, "MEX") == 1, what="MEX's profile at ITA and IDN")
    assert audit_of(fed, first["id"]) == [("accepted", None)]  # every publication is on the hub's record

    async with focal(ita) as api:
        async with api.get("/api/profiles/MEX") as r:
            assert r.status == 200
            shown = await r.json()
        assert shown["message_id"] == first["id"]
        assert shown["profile"]["mla_authority"]["name"] == "Fiscalía General de la República"
        async with api.get("/api/profiles") as r:
            assert [e["profile"]["country"] for e in (await r.json())["profiles"]] == ["MEX"]
        async with api.get("/api/profiles/IDN") as r:
            assert r.status == 404 and (await r.json())["error"] == "not_found"

    async with focal(mex) as api:  # a second publication: the next serial, French added
        async with api.post("/api/profiles", json={**MEX_PROFILE, "languages": ["es", "en", "fr"]}) as r:
            assert r.status == 202 and (await r.json())["serial"] == 2
        async with api.post("/api/profiles", json={**MEX_PROFILE, "serial": 2}) as r:  # not newer at home either
            assert r.status == 400 and (await r.json())["error"] == "profile_serial_not_newer"
    await eventually(lambda: held(ita, "MEX") == 2, what="serial 2 at ITA")
    assert ita.profiles.get("MEX")["languages"] == ["es", "en", "fr"]

    # A replayed older profile, and another with the serial in force, signed by MEX itself: each
    # member refuses it with its reason and keeps serial 2.
    older = await forge_profile(mex, {**MEX_PROFILE, "country": "MEX", "serial": 1, "languages": ["es"]})
    equal = await forge_profile(mex, {**MEX_PROFILE, "country": "MEX", "serial": 2, "languages": ["es"]})
    for env in (older, equal):
        refusal = await eventually(lambda env=env: refusal_of(ita, env.id), what="ITA's refusal")
        assert refusal["reason"] == "profile_serial_not_newer"
        await eventually(lambda env=env: refusal_of(idn, env.id), what="IDN's refusal")
    assert held(ita, "MEX") == 2 and ita.profiles.get("MEX")["languages"] == ["es", "en", "fr"]


async def test_a_profile_of_another_state_or_in_an_unknown_language_is_refused_at_the_hub(
        fed: RunningFederation) -> None:
    mex, ita, idn = fed.nodes["MEX"], fed.nodes["ITA"], fed.nodes["IDN"]
    async with focal(mex) as api:
        async with api.post("/api/profiles", json=MEX_PROFILE) as r:
            assert r.status == 202
    await eventually(lambda: held(ita, "MEX") == 1, what="MEX's profile at ITA")

    # ITA, signing with its own key, claims to publish MEX's profile: the hub refuses and records it.
    hijack = await forge_profile(ita, {**MEX_PROFILE, "country": "MEX", "serial": 9, "languages": ["it"]})
    unknown = await forge_profile(ita, {**MEX_PROFILE, "country": "ITA", "serial": 1, "languages": ["it", "xx"]})
    assert await eventually(lambda: audit_of(fed, hijack.id)) == [("rejected", "profile_not_own")]
    assert await eventually(lambda: audit_of(fed, unknown.id)) == [("rejected", "unknown_language")]
    assert held(idn, "MEX") == 1 and held(idn, "ITA") is None and held(mex, "ITA") is None

    # The publisher's own node refuses both before signing (the same rules).
    async with focal(ita) as api:
        async with api.post("/api/profiles", json={**MEX_PROFILE, "country": "MEX"}) as r:
            assert r.status == 400 and (await r.json())["error"] == "profile_not_own"
        async with api.post("/api/profiles", json={**MEX_PROFILE, "languages": ["it", "xx"]}) as r:
            body = await r.json()
            assert r.status == 400 and body["error"] == "unknown_language" and "'xx'" in body["detail"]
    assert held(ita, "ITA") is None


async def test_a_request_is_checked_against_the_requested_states_profile_before_sealing(
        fed: RunningFederation) -> None:
    mex, ita = fed.nodes["MEX"], fed.nodes["ITA"]
    async with focal(mex) as api:
        async with api.post("/api/profiles", json=MEX_PROFILE) as r:
            assert r.status == 202
    await eventually(lambda: held(ita, "MEX") == 1, what="MEX's profile at ITA")

    async with focal(ita) as api:
        async with api.post("/api/mla/requests", json=fields("ITA-L1", language="it")) as r:
            body = await r.json()
        assert r.status == 400 and body["error"] == "language_not_accepted"
        assert "accepts requests in es, en" in body["detail"]

        extradition = fields("ITA-X1", kind="extradition", legal_basis=["untoc_article_16"], measures=["surrender"],
                             measure_details={"surrender": {"person": "R. Ficticio", "warrant": "GIP Roma 17/2026"}})
        async with api.post("/api/mla/requests", json=extradition) as r:
            body = await r.json()
        assert r.status == 400 and body["error"] == "treaty_required"

        missing = fields("ITA-M1", measure_details={"financial_investigation": {"institution": "Banco Ficticio"},
                                                    "asset_tracing": {"institution": "Banco Ficticio"},
                                                    "freezing": {"assets": "MX-0042"}})
        async with api.post("/api/mla/requests", json=missing) as r:
            body = await r.json()
        assert r.status == 400 and body["error"] == "measure_field_missing"
        assert "financial_investigation: account or holder is required" in body["detail"]
        assert not ita.mla.list()  # nothing refused was sealed or queued

        reason = "the person boards a flight to Cancún on Friday; the treaty is not yet in force"
        async with api.post("/api/mla/requests", json={**extradition, "treaty_override": reason}) as r:
            assert r.status == 202, await r.text()
            overridden = await r.json()
        assert overridden["warnings"] == []
        async with api.post("/api/mla/requests", json=fields("ITA-I1", requested="IDN")) as r:  # IDN: no profile
            assert r.status == 202
            assert (await r.json())["warnings"] == ["no_profile"]

    await eventually(lambda: [r for r in mex.mla.list() if r["id"] == overridden["id"]], what="the request at MEX")
    async with focal(mex) as api:
        async with api.get(f"/api/mla/requests/{overridden['id']}") as r:
            view = await r.json()
    assert view["request"]["treaty_override"] == reason  # recorded in the sealed request for its readers
    assert view["request"]["language"] == "en"
    assert view["request"]["measure_details"]["surrender"]["warrant"] == "GIP Roma 17/2026"


async def test_a_request_of_the_previous_release_without_language_or_templates_is_accepted(
        fed: RunningFederation) -> None:
    """Receivers accept what nodes of the previous release send: the template and language rules
    apply when a request is composed, and the new fields are optional on the wire."""
    ita, mex = fed.nodes["ITA"], fed.nodes["MEX"]
    old = {"reference": "ITA-OLD", "requesting": "ITA", "requested": "MEX", "kind": "mutual_legal_assistance",
           "legal_basis": ["untoc_article_18"], "offences": ["art6_1_a_smuggling"], "measures": ["asset_tracing"],
           "urgency": "routine", "summary": "sent by a node of the previous release"}
    env = ita.build_sealed("mla.request", ["MEX"], old, thread="mla:ITA:ITA-OLD",
                           header={"reference": "ITA-OLD", "kind": "mutual_legal_assistance", "status": "submitted",
                                   "urgency": "routine", "deadline": None})
    await ita.submit([env])
    await eventually(lambda: [r for r in mex.mla.list() if r["id"] == env.id], what="the old request at MEX")
    assert refusal_of(mex, env.id) is None


async def test_the_somex_profile_cli_publishes_and_shows(fed: RunningFederation, tmp_path) -> None:  # noqa: ANN001
    servers = {c: TestServer(make_app(fed.nodes[c])) for c in ("ITA", "MEX")}
    for server in servers.values():
        await server.start_server()
    try:
        Deployment(fed.path, fed.amqp_port, fed.vhost, node_http_ports={c: s.port for c, s in servers.items()}).save()
        document = tmp_path / "mex-profile.json"
        document.write_text(json.dumps(MEX_PROFILE), encoding="utf-8")
        code, out = await somex(fed, "profile", "--node", "MEX", "publish", str(document))
        assert code == 0 and json.loads(out)["serial"] == 1, out
        await eventually(lambda: held(fed.nodes["ITA"], "MEX") == 1, what="MEX's profile at ITA")
        code, out = await somex(fed, "profile", "--node", "ITA", "show", "mex")
        assert code == 0 and json.loads(out)["profile"]["languages"] == ["es", "en"]
        code, out = await somex(fed, "profile", "--node", "ITA", "show")
        assert code == 0 and [e["profile"]["country"] for e in json.loads(out)["profiles"]] == ["MEX"]
        document.write_text(json.dumps({**MEX_PROFILE, "languages": ["es", "xx"]}), encoding="utf-8")
        code, out = await somex(fed, "profile", "--node", "MEX", "publish", str(document))
        assert code == 1 and json.loads(out)["error"] == "unknown_language"
        code, out = await somex(fed, "profile", "--node", "ITA", "show", "IDN")
        assert code == 1 and json.loads(out)["error"] == "not_found"
    finally:
        for server in servers.values():
            await server.close()


async def test_the_demo_steps_of_profiles_and_mla_pass_against_a_running_federation(fed: RunningFederation) -> None:
    """`somex demo`'s profiles step, then MLA's (declared by the features, in the demo's order):
    MEX's profile reaches ITA, a request in Italian is refused, the MLA scenario in English passes."""
    servers = {c: TestServer(make_app(fed.nodes[c])) for c in ("MEX", "ITA")}
    servers["HUB"] = TestServer(make_hub_app(fed.hub))
    for server in servers.values():
        await server.start_server()
    said: list[str] = []

    class Demo:
        countries = ["MEX", "ITA"]

        def api(self, country: str, role: str = "focal") -> tuple[str, dict[str, str]]:
            token = fed.federation.credentials(country).tokens[role]
            return str(servers[country].make_url("/api")), {"Authorization": f"Bearer {token}"}

        def token(self, country: str, role: str = "focal") -> str:
            return fed.federation.credentials(country).tokens[role]

        def hub_api(self, role: str = "auditor") -> tuple[str, dict[str, str]]:
            return self.api("HUB", role)

        def say(self, text: str = "") -> None:
            said.append(text)

        async def wait_for(self, what: str, probe):  # noqa: ANN001, ANN202
            return await eventually(probe, timeout=30, what=what)

    steps = [f for f in sorted(discover(), key=lambda f: (f.demo_position, f.name)) if f.name in ("profiles", "mla")]
    assert [f.name for f in steps] == ["profiles", "mla"]
    checks = []
    try:
        async with aiohttp.ClientSession() as session:
            for feature in steps:
                for step in feature.demo_steps:
                    checks += await step(session, Demo())
    finally:
        for server in servers.values():
            await server.close()
    assert checks and all(ok for _, ok in checks), (checks, said)
    assert any("language_not_accepted" in line for line in said), said
