"""The demo's case scenario: a maritime interception reported by IDN, passed to MEX under H2,
an onward transfer refused, a joint investigation of IDN, MEX and ITA, search and statistics."""

from __future__ import annotations

from typing import Any

import aiohttp

from nodes.national.feature import DemoFederation

INTERCEPTION = {
    "reference": "IDN-POLAIR-2026-0042",
    "title": "KM Harapan Jaya intercepted south of Rote Island",
    "offences": [{"article": "6.1.a", "aggravating": ["6.3.a"]}, {"article": "6.2.c"}],
    "evaluation": {"source": "B", "information": 2},
    "persons": [
        {"role": "organiser", "name": "José Álvarez Ruiz", "aliases": ["El Capitán"], "date_of_birth": "1979-04-02",
         "nationalities": ["MEX"], "documents": [{"type": "passport", "number": "G12345678", "issuing_country": "MEX"}],
         "legal_basis": "Smuggling of Migrants Protocol art. 10(1); UNTOC art. 27(1)(b)"},
        {"role": "facilitator", "name": "Rudi Wibowo", "nationalities": ["IDN"],
         "legal_basis": "Smuggling of Migrants Protocol art. 10(1)"},
        {"role": "witness", "name": "Ahmad Karimi", "smuggled_migrant": True, "nationalities": ["AFG"],
         "legal_basis": "Smuggling of Migrants Protocol art. 10(1); statement given voluntarily"},
    ],
    "events": [{"kind": "interception", "date": "2026-10-03", "country": "IDN", "authority": "POLAIRUD", "maritime": {
        "vessel_name": "KM Harapan Jaya", "vessel_type": "wooden fishing vessel", "flag": "IDN", "imo": "9074729",
        "mmsi": "525123456", "position": {"lat": -11.02, "lon": 123.1}, "persons_on_board": 41, "deaths": 2,
        "missing": 1, "departure_place": "Kupang", "destination": "Ashmore Reef"}}],
    "routes": [{"countries": ["IDN", "AUS"], "legs": [{"from": "IDN", "to": "AUS", "mode": "sea", "via": "Rote"}]}],
    "modus_operandi": ["migrants flown to Jakarta on genuine visas, moved overland to Kupang, boat crew paid per head"],
    "financial": {"flows": [{"kind": "payment", "amount": 4000, "currency": "USD", "description": "per migrant"}],
                  "proceeds_estimate": {"amount": 164000, "currency": "USD"}},
}
H2 = {"code": "H2", "retention_days": 365}


class _Focal:
    def __init__(self, session: aiohttp.ClientSession, demo: DemoFederation, country: str) -> None:
        self.session, self.country = session, country
        self.base, auth = demo.api(country)
        self.headers = {**auth, "X-Somex-Officer": f"demo officer {country}"}

    async def call(self, method: str, path: str, body: Any = None, **params: str) -> tuple[int, Any]:
        async with self.session.request(method, self.base + path, json=body, params=params,
                                        headers=self.headers) as r:
            return r.status, (await r.text() if r.content_type == "text/csv" else await r.json())

    async def case_id(self, reference: str, provider: str) -> int | None:
        status, answer = await self.call("GET", "/cases")
        held = answer.get("cases", []) if status == 200 else []
        return next((c["id"] for c in held if c["reference"] == reference and c["provider"] == provider), None)


async def case_scenario(session: aiohttp.ClientSession, demo: DemoFederation) -> list[tuple[str, bool]]:
    say, wait_for = demo.say, demo.wait_for
    idn, mex, ita = (_Focal(session, demo, c) for c in ("IDN", "MEX", "ITA"))
    checks: list[tuple[str, bool]] = []
    ref = INTERCEPTION["reference"]
    say("\n== case information: a maritime interception (Protocol art. 6, 10; COP res. 6/3 paras 14, 16, 17)")

    wrong = {**INTERCEPTION, "persons": [{**INTERCEPTION["persons"][2], "role": "suspected"}]}
    status, answer = await idn.call("POST", "/cases", wrong)
    say(f"IDN records the smuggled migrant as a suspect -> {status} {answer.get('error')}")
    checks.append(("a smuggled migrant as a suspect is refused (Protocol art. 5)",
                   answer.get("error") == "smuggled_migrant_as_suspect"))

    _, created = await idn.call("POST", "/cases", INTERCEPTION)
    _, shared = await idn.call("POST", f"/cases/{created['id']}/share", {"to": ["MEX"], "handling": H2})
    say(f"IDN -> MEX  case.share {ref} (KM Harapan Jaya, IMO 9074729, 41 on board, 2 dead), handling H2")
    try:
        at_mex = await wait_for("the case at MEX", lambda: mex.case_id(ref, "IDN"))
    except TimeoutError:
        return [*checks, ("MEX received IDN's case", False)]
    checks.append(("MEX received IDN's H2 case", bool(shared.get("id"))))

    status, answer = await mex.call("POST", f"/cases/{at_mex}/share", {"to": ["ITA"]})
    say(f"MEX tries to pass the H2 case on to ITA -> {status} {answer.get('error')}: {answer.get('detail')}")
    checks.append(("MEX's onward transfer of an H2 case is refused without IDN's permission",
                   (status, answer.get("error")) == (403, "onward_transfer_not_permitted")))

    _, jit = await idn.call("POST", "/jits", {"members": ["MEX", "ITA"], "title": "Kupang - Ashmore Reef route",
                                              "reference": ref})
    thread = jit["thread"]
    say(f"IDN opens the joint investigation {thread} with MEX and ITA")
    await idn.call("POST", f"/cases/{created['id']}/share", {"jit": thread, "handling": H2})
    say("IDN -> JIT  case.share: the provider itself gives ITA the case, in the thread")
    for focal in (mex, ita):
        await wait_for(f"the joint investigation at {focal.country}",
                       lambda f=focal: _status_ok(f.call("GET", f"/jits/{thread}")))
    said = {}
    for focal, text in ((idn, "Boat owner identified in Kupang; arrest planned 12 Nov."),
                        (mex, "Álvarez Ruiz travelled MEX-JKT on 28 Sep; passport G12345678."),
                        (ita, "Same organiser named in a 2025 Lampedusa landing; file attached on request.")):
        _, sent = await focal.call("POST", f"/jits/{thread}/messages", {"text": text})
        said[sent["id"]] = focal.country
        say(f"{focal.country} -> JIT  case.message {sent['id']}")

    for focal in (idn, mex, ita):
        want = {m for m, sender in said.items() if sender != focal.country}

        async def received(f: _Focal = focal, want: set = want) -> bool:
            status, view = await f.call("GET", f"/jits/{thread}")
            return status == 200 and want <= {m["id"] for m in view["messages"]}

        try:
            await wait_for(f"every JIT message at {focal.country}", received)
            checks.append((f"{focal.country} received every other member's JIT message", True))
        except TimeoutError:
            checks.append((f"{focal.country} received every other member's JIT message", False))

    try:
        await wait_for("the case at ITA", lambda: ita.case_id(ref, "IDN"))
        _, found = await ita.call("GET", "/cases/search", name="JOSE ALVAREZ")
        hits = [(h["provider"], h["handling"]["code"], h["person"]["name"]) for h in found["persons"]]
        say(f"ITA searches 'JOSE ALVAREZ' -> {hits}")
        checks.append(("ITA finds 'José Álvarez Ruiz' for JOSE ALVAREZ, with provider IDN and H2",
                       hits == [("IDN", "H2", "José Álvarez Ruiz")]))
    except TimeoutError:
        checks.append(("ITA received the case in the joint investigation", False))
    _, found = await mex.call("GET", "/cases/search", document="g 1234 5678")
    checks.append(("MEX finds the passport typed 'g 1234 5678'", len(found.get("persons", [])) == 1))
    _, log = await mex.call("GET", "/cases/access-log")
    checks.append(("every access to personal data is in MEX's access log",
                   {e["action"] for e in log["entries"]} == {"search"} and len(log["entries"]) >= 1))
    _, csv_text = await ita.call("GET", "/cases/stats", format="csv")
    say("ITA's statistics (paragraph 17), CSV:\n  " + "\n  ".join(csv_text.splitlines()))
    checks.append(("statistics count the 2 deaths on the IDN>AUS route", ",IDN>AUS," in csv_text
                   and csv_text.splitlines()[1].split(",")[8] == "2"))
    return checks


async def _status_ok(call: Any) -> bool:
    status, _ = await call
    return status == 200
