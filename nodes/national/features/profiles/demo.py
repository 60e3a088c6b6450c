"""The profiles step of `somex demo`: MEX publishes its competent-authority profile (requests in
Spanish or English, a treaty required for extradition, INTERPOL for urgent requests); ITA has it
through the hub and its request in Italian is refused before it is sealed (`language_not_accepted`).
Runs before the MLA step, whose request (in English) MEX's profile accepts."""

from __future__ import annotations

import aiohttp

from nodes.national.feature import DemoFederation

MEX_PROFILE = {"languages": ["es", "en"], "convention_basis_for_extradition": False, "urgent_channels": ["interpol"],
               "mla_authority": {"name": "Fiscalía General de la República", "contact": "mla@fgr.example"},
               "extradition_authority": {"name": "Secretaría de Relaciones Exteriores", "contact": "ext@sre.example"}}


async def mex_publishes_its_profile(session: aiohttp.ClientSession, demo: DemoFederation) -> list[tuple[str, bool]]:
    say = demo.say
    (mex, mex_auth), (ita, ita_auth) = demo.api("MEX"), demo.api("ITA")
    say("\n== competent-authority profiles: what the requested State accepts, checked before sending")
    async with session.post(f"{mex}/profiles", headers=mex_auth, json=MEX_PROFILE) as r:
        published = r.status == 202
        answer = await r.json()
    checks = [("MEX published its competent-authority profile", published)]
    if not published:
        say(f"MEX profile refused: {answer}")
        return checks
    say(f"MEX -> *    profile.publish serial {answer['serial']}: requests in es, en; extradition needs a treaty")

    async def at_ita() -> bool:
        async with session.get(f"{ita}/profiles/MEX", headers=ita_auth) as r:
            return r.status == 200 and (await r.json())["profile"]["serial"] == answer["serial"]

    checks.append(("ITA holds MEX's profile", bool(await demo.wait_for("MEX's profile at ITA", at_ita))))
    async with session.post(f"{ita}/mla/requests", headers=ita_auth, json={
            "requested": "MEX", "reference": "ITA-PA-2026-IT", "kind": "mutual_legal_assistance",
            "legal_basis": ["untoc_article_18"], "offences": ["art6_1_a_smuggling"], "measures": ["witness_hearing"],
            "measure_details": {"witness_hearing": {"person": "the skipper", "questions": "Who paid for the crossing?"}},
            "urgency": "routine", "summary": "Richiesta di audizione del comandante.", "language": "it"}) as r:
        refused = await r.json()
    checks.append(("ITA's request in Italian refused before sealing (MEX accepts es, en)",
                   r.status == 400 and refused.get("error") == "language_not_accepted"))
    say(f"ITA         a request in Italian to MEX: {refused.get('error')}: {refused.get('detail')}")
    return checks
