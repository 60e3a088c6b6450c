"""The alert part of `somex demo`: a stolen passport reported by one country is hit by a border
check in another, the hit goes back to the issuer; a bulk feed reaches the other replicas."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import aiohttp

from nodes.national.feature import DemoFederation
from nodes.national.features.alerts.cli import push_file

FEED_ALERTS = 1000


async def stolen_passport_checks(session: aiohttp.ClientSession, demo: DemoFederation) -> list[tuple[str, bool]]:
    api, say = demo.api, demo.say
    checks: list[tuple[str, bool]] = []
    ita, ita_auth = api("ITA")
    idn, idn_auth = api("IDN")
    say("\n== a stolen passport")
    async with session.post(f"{ita}/messages", headers=ita_auth, json={"type": "alert.document", "to": ["*"], "body": {
            "document_number": "YB 765-4321", "document_type": "passport", "issuing_country": "ITA",
            "status": "stolen", "action": "create", "reported": "2026-11-21", "event_date": "2026-11-19"}}) as r:
        sent = await r.json()
    say(f"ITA -> *    alert.document {sent.get('id')}: passport YB 765-4321 stolen")

    async def border_check() -> dict | None:
        async with session.get(f"{idn}/documents/check", headers=idn_auth, params={
                "country": "ITA", "type": "passport", "number": "yb7654321", "check": "border",
                "point": "Soekarno-Hatta airport, terminal 3"}) as r:
            answer = await r.json()
        return answer if answer.get("hit") else None

    try:
        hit = await demo.wait_for("the alert in IDN's replica", border_check)
        say(f"IDN border check of ITA passport yb7654321: HIT, status {hit['status']}, origin {hit['origin']} "
            f"(answered from IDN's own replica)")
        checks.append(("an IDN border check hits ITA's stolen passport", hit["status"] == "stolen"))
    except TimeoutError:
        checks.append(("an IDN border check hits ITA's stolen passport", False))

    async def hit_at_issuer() -> list:
        async with session.get(f"{ita}/documents/hits", headers=ita_auth) as r:
            return [h for h in (await r.json())["hits"] if h["checking_country"] == "IDN"]

    try:
        [reported] = await demo.wait_for("IDN's hit report at ITA", hit_at_issuer)
        say(f"ITA <- IDN  alert.hit: {reported['check_kind']} check at {reported['point']!r}, {reported['checked_at']}")
        checks.append(("ITA received IDN's signed hit report", True))
    except (TimeoutError, ValueError):
        checks.append(("ITA received IDN's signed hit report", False))

    mex, _ = api("MEX")
    with tempfile.TemporaryDirectory() as tmp:
        feed = Path(tmp) / "mex-alerts.ndjson"
        lines = [json.dumps({"document_number": f"G{i:08d}", "document_type": "passport", "issuing_country": "MEX",
                             "status": "lost", "action": "create", "reported": "2026-11-20"}) for i in range(FEED_ALERTS)]
        lines[500] = '{"document_number": "G-BAD", "status": "misplaced"}'
        feed.write_text("\n".join(lines) + "\n")
        report = await push_file(mex, demo.token("MEX", "feed"), feed, "ndjson", lambda *_: None)
    say(f"MEX feed of {FEED_ALERTS} lines: {report.get('accepted')} alerts in {report.get('batches')} signed batch(es), "
        f"refused: " + ", ".join(f"line {e['line']} {e['field']} {e['reason']}" for e in report.get("errors", [])))
    checks.append(("MEX's feed sent every good line and named the bad one",
                   report.get("accepted") == FEED_ALERTS - 1 and [e["line"] for e in report.get("errors", [])] == [501]))

    async def feed_at_ita() -> int:
        async with session.get(f"{ita}/documents/replica", headers=ita_auth) as r:
            count = (await r.json())["active_alerts"].get("MEX", 0)
        return count if count == FEED_ALERTS - 1 else 0

    try:
        await demo.wait_for("MEX's feed in ITA's replica", feed_at_ita)
        checks.append((f"ITA's replica holds MEX's {FEED_ALERTS - 1} fed alerts", True))
    except TimeoutError:
        checks.append((f"ITA's replica holds MEX's {FEED_ALERTS - 1} fed alerts", False))
    return checks
