"""The MLA step of `somex demo`: ITA asks MEX, with an attachment, to trace and freeze proceeds;
MEX acknowledges, works on it and executes it; the auditor sees the whole thread's trail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from nodes.national.feature import DemoFederation
from nodes.national.features.mla.cli import MlaClient


async def trace_and_freeze_proceeds(session: aiohttp.ClientSession, demo: DemoFederation) -> list[tuple[str, bool]]:
    """ITA asks MEX to trace and freeze proceeds, with a bank-records attachment; MEX acknowledges,
    works on it and executes it. Returns the demo's checks."""
    say = demo.say
    ita, mex = (MlaClient(session, f"{demo.api(c)[0]}/mla", demo.token(c)) for c in ("ITA", "MEX"))
    records = b"date,account,amount\n2026-10-02,MX-0042,48000.00\n" * 2000
    status, created = await ita.create({
        "requested": "MEX", "reference": "ITA-PA-2026-117", "kind": "mutual_legal_assistance",
        "legal_basis": ["untoc_article_18", "smuggling_of_migrants_protocol"],
        "offences": ["art6_1_a_smuggling"], "aggravating": ["art6_3_a_endangering_lives_or_safety"],
        "measures": ["financial_investigation", "asset_tracing", "freezing"], "urgency": "urgent",
        "urgency_reason": "the proceeds are being moved", "deadline": None,
        "summary": "Smuggling network on the Lampedusa route; proceeds paid into accounts in Mexico.",
        "language": "en",
        "measure_details": {"financial_investigation": {"institution": "Banco Ficticio", "holder": "R. Ficticio"},
                            "asset_tracing": {"institution": "Banco Ficticio", "account": "MX-0042"},
                            "freezing": {"assets": "the balance of account MX-0042 at Banco Ficticio"}},
    }, [("bank-records.csv", "text/csv", records)])
    checks: list[tuple[str, bool]] = [("ITA's MLA request with an attachment was accepted", status == 202)]
    if status != 202:
        say(f"ITA -> MEX  mla.request refused: {created}")
        return checks
    rid, thread = created["id"], created["thread"]
    say(f"ITA -> MEX  mla.request {rid} ({thread}, {len(records)} byte attachment, sealed for MEX)")

    async def state(client: MlaClient, wanted: str) -> bool:
        status, rows = await client.list()
        return status == 200 and any(r["id"] == rid and r["state"] == wanted for r in rows["requests"])

    async def step(what: str, probe: Callable[[], Awaitable[Any]]) -> bool:
        try:
            await demo.wait_for(what, probe)
            return True
        except TimeoutError:
            return False

    checks.append(("MEX received the MLA request", await step("the request at MEX", lambda: state(mex, "received"))))
    _, view = await mex.view(rid)  # the focal point opens it: a `retrieved` receipt goes to ITA
    attachment = (view.get("request") or {}).get("attachments", [{}])[0]
    _, content = await mex.attachment(rid, 0)
    checks.append(("MEX read the attachment exactly as sent (SHA-256 matches)",
                   content == records and attachment.get("size") == len(records)))
    for event, wanted in (("acknowledge", "acknowledged"), ("start", "in_progress")):
        await mex.act(rid, event)
        say(f"MEX -> ITA  mla.status {event}")
        await step(f"{wanted} at ITA", lambda w=wanted: state(ita, w))
    await mex.act(rid, "execute", [("freezing-order.txt", "text/plain", b"Accounts MX-0042 frozen on 2026-11-23")],
                  note="two accounts traced, one frozen; order attached")
    say("MEX -> ITA  mla.response execute (with the freezing order)")
    checks.append(("ITA sees the request executed", await step("executed at ITA", lambda: state(ita, "executed"))))

    async def evidence() -> bool:
        _, seen = await ita.view(rid)
        kinds = {t["what"] for t in seen.get("timeline", []) if t["by"] == "MEX"}
        return {"receipt.delivered", "receipt.retrieved"} <= kinds

    checks.append(("ITA holds MEX's signed delivered and retrieved receipts", await step("receipts at ITA", evidence)))
    _, seen = await ita.view(rid)
    say(f"\n== ITA's timeline of {thread}")
    for t in seen.get("timeline", []):
        say(f"{t['at']}  {t['what']:<22} by {t['by']}  {t.get('to') or ''}")

    hub, auditor = demo.hub_api("auditor")
    expected = {"mla.request": 1, "mla.status": 2, "mla.response": 1, "receipt": 5}

    async def audited() -> list[dict] | None:
        async with session.get(f"{hub}/audit/entries",
                               params={"thread": thread}, headers=auditor) as r:
            entries = (await r.json())["entries"]
        types = [e["type"] for e in entries if e["verdict"] == "accepted"]
        return entries if all(types.count(t) == n for t, n in expected.items()) else None

    try:
        trail = await demo.wait_for("the thread's whole trail in the auditor API", audited)
        say(f"\n== the auditor's trail of {thread} (hub API: headers and digests, never contents)")
        for e in trail:
            header = e.get("header") or {}
            say(f"#{e['seq']:<3} {e['type']:<13} {e['sender']} -> {','.join(e['recipients'])}  "
                f"{header.get('event', '')} {header.get('status', '')}")
        statuses = [(e.get("header") or {}).get("status") for e in trail if e["type"].startswith("mla.")]
        complete = statuses == ["submitted", "acknowledged", "in_progress", "executed"]
    except TimeoutError:
        complete = False
    checks.append(("the auditor API shows the MLA thread's whole trail: request, 2 statuses, answer, 5 receipts, "
                   "and each status", complete))
    return checks
