"""The person-alert step of `somex demo`: MEX alerts on a person whose name it writes in Arabic
script; at ITA's border the traveller's passport zone (Latin, as ICAO prints it) matches it, with
why; the hit goes back to MEX alone; a carrier checking the same passport learns only "call"."""

from __future__ import annotations

import aiohttp

from nodes.national.feature import DemoFederation
from protocol.mrz import check_digit

ZONE_NAME, ZONE_BIRTH = ("HADDAD", "MOHAMED"), "800517"


def passport_zone(state: str, number: str, family: str, given: str, birth: str, nationality: str) -> str:
    """A TD3 zone with its check digits (Doc 9303 part 4), for the demo's traveller."""
    num, expiry, personal = number.ljust(9, "<"), "320101", "<" * 15
    parts = f"{num}{check_digit(num)}", f"{birth}{check_digit(birth)}", f"{expiry}{check_digit(expiry)}"
    composite = check_digit(parts[0] + parts[1] + parts[2] + personal)
    line1 = f"P<{state}{family}<<{given}".ljust(44, "<")
    return f"{line1}\n{parts[0]}{nationality}{parts[1]}M{parts[2]}{personal}{composite}"


async def person_alert_at_the_border(session: aiohttp.ClientSession, demo: DemoFederation) -> list[tuple[str, bool]]:
    api, say = demo.api, demo.say

    checks: list[tuple[str, bool]] = []
    mex, mex_auth = api("MEX")
    ita, ita_auth = api("ITA")
    say("\n== a person alert, matched across scripts at another country's border")
    async with session.post(f"{mex}/person-alerts", headers=mex_auth, json={
            "action": "create", "national_reference": "MX-PA-DEMO-1",
            "subject": {"family_name": {"text": "حداد", "language": "ar"},
                        "given_names": {"text": "محمد", "language": "ar"},
                        "date_of_birth": "1980-05-17", "nationality": "LBY", "sex": "M"},
            "basis": "suspected", "legal_basis": "Ley de Migración art. 159", "handling_code": "H2",
            "recipients": "all"}) as r:
        sent = await r.json()
    say(f"MEX -> *    person.alert {sent.get('id')}: محمد حداد (suspected), names as written + ICAO Latin")
    zone = passport_zone("LBY", "LY1234567", *ZONE_NAME, ZONE_BIRTH, "LBY")

    async def check(role: str = "focal") -> dict | None:
        _, auth = api("ITA", role)
        async with session.post(f"{ita}/border/check", headers=auth,
                                json={"mrz": zone, "point": "Fiumicino T3", "check": "border" if role == "focal"
                                      else "carrier"}) as r:
            answer = await r.json()
        return answer if answer.get("hit") else None

    try:
        answer = await demo.wait_for("the person alert in ITA's replica", check)
        [match] = answer["person_matches"]
        say(f"ITA border check of passport zone HADDAD<<MOHAMED: HIT, {match['issuer']} {match['national_reference']}")
        say(f"            why: {match['why']}")
        checks.append(("ITA's border check matches MEX's Arabic-script alert from a Latin zone",
                       match["issuer"] == "MEX"))
    except (TimeoutError, ValueError, KeyError):
        checks.append(("ITA's border check matches MEX's Arabic-script alert from a Latin zone", False))

    async def hit_at_issuer() -> list:
        async with session.get(f"{mex}/person-alerts/hits", headers=mex_auth) as r:
            return [h for h in (await r.json())["hits"] if h["checking_country"] == "ITA"]

    try:
        [hit] = await demo.wait_for("ITA's person.hit at MEX", hit_at_issuer)
        say(f"MEX <- ITA  person.hit: {hit['check_kind']} check at {hit['point']!r}, score {hit['score']} %")
        checks.append(("MEX alone is told of the hit", True))
    except (TimeoutError, ValueError):
        checks.append(("MEX alone is told of the hit", False))
    carrier = await check("carrier")
    say(f"ITA carrier check of the same passport: {carrier}")
    checks.append(("a carrier sees hit and whom to call, never the record",
                   carrier is not None and set(carrier) == {"reference", "hit", "call"}))
    return checks
