"""`somex mla ...`: a focal point's MLA requests through a running node's API, and the demo's MLA scenario."""

from __future__ import annotations

import argparse
import asyncio
import json
import mimetypes
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from nodes.runtime.api_client import add_cacert_argument, api_base, api_session, default_cacert
from nodes.runtime.config import utcnow
from nodes.runtime.deployment import Deployment
from nodes.runtime.federation import load_federation
from protocol import mla


class MlaClient:
    """The MLA routes of one node's HTTP API, as a focal point uses them."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self._session, self.base_url = session, base_url
        self._headers = {"Authorization": f"Bearer {token}"}

    @classmethod
    def for_country(cls, session: aiohttp.ClientSession, deployment: Deployment, country: str) -> MlaClient:
        federation = load_federation(deployment.federation_dir, utcnow())
        return cls(session, f"{api_base(deployment.state_dir, country, deployment.node_http_ports[country])}/mla",
                   federation.credentials(country).tokens["focal"])

    @staticmethod
    def _form(name: str, fields: dict[str, Any], files: list[tuple[str, str, bytes]]) -> aiohttp.FormData:
        form = aiohttp.FormData()
        form.add_field(name, json.dumps(fields), content_type="application/json")
        for filename, media_type, content in files:
            form.add_field("attachment", content, filename=filename, content_type=media_type)
        return form

    async def _call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self._session.request(method, f"{self.base_url}{path}", headers=self._headers, **kwargs) as r:
            return r.status, await r.json()

    async def create(self, fields: dict[str, Any], files: list[tuple[str, str, bytes]] = ()) -> tuple[int, Any]:
        return await self._call("POST", "/requests", data=self._form("request", fields, list(files)))

    async def act(self, request_id: str, event: str, files: list[tuple[str, str, bytes]] = (),
                  **fields: Any) -> tuple[int, Any]:
        return await self._call("POST", f"/requests/{request_id}/events",
                                data=self._form("event", {"event": event, **fields}, list(files)))

    async def list(self, **query: str) -> tuple[int, Any]:
        return await self._call("GET", "/requests", params={k: v for k, v in query.items() if v})

    async def view(self, request_id: str) -> tuple[int, Any]:
        return await self._call("GET", f"/requests/{request_id}")

    async def attachment(self, message_id: str, index: int) -> tuple[int, bytes]:
        async with self._session.get(f"{self.base_url}/messages/{message_id}/attachments/{index}",
                                     headers=self._headers) as r:
            return r.status, await r.read()


def add_parser(sub: Any) -> None:
    """Register `somex mla ...` on the CLI's subcommand parsers."""
    parser = sub.add_parser("mla", help="mutual legal assistance and extradition requests (through a node's API)")
    parser.add_argument("--node", required=True, help="the focal point's country, e.g. ITA")
    add_cacert_argument(parser)
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="seal and send a request to the requested State")
    create.add_argument("--to", required=True, help="the requested State")
    create.add_argument("--reference", required=True)
    create.add_argument("--kind", choices=mla.KINDS, default="mutual_legal_assistance")
    create.add_argument("--legal-basis", action="append", choices=mla.LEGAL_BASES, required=True)
    create.add_argument("--treaty", help="the bilateral treaty, when that is the legal basis")
    create.add_argument("--offence", action="append", choices=mla.OFFENCES, required=True)
    create.add_argument("--aggravating", action="append", choices=mla.AGGRAVATING)
    create.add_argument("--measure", action="append", choices=mla.MEASURES, required=True)
    create.add_argument("--urgency", choices=mla.URGENCIES, default="routine")
    create.add_argument("--urgency-reason")
    create.add_argument("--deadline", help="YYYY-MM-DD")
    create.add_argument("--summary", required=True, help="summary of the facts")
    create.add_argument("--attach", action="append", type=Path, default=[], help="a file to attach (repeatable)")
    listing = actions.add_parser("list", help="requests sent and received")
    listing.add_argument("--direction", choices=("in", "out"))
    listing.add_argument("--state", choices=[s.value for s in mla.State])
    listing.add_argument("--due", choices=("overdue", "soon"))
    show = actions.add_parser("show", help="a request, opened, with its whole timeline")
    show.add_argument("id")
    act = actions.add_parser("act", help="acknowledge, start, request or supply information, execute, refuse, "
                                         "withdraw, remind")
    act.add_argument("id")
    act.add_argument("event", choices=mla.MESSAGE_EVENTS)
    act.add_argument("--note")
    act.add_argument("--ground", action="append", choices=mla.REFUSAL_GROUNDS, help="for refuse (repeatable)")
    act.add_argument("--attach", action="append", type=Path, default=[])
    withdraw = actions.add_parser("withdraw", help="withdraw a request this State made")
    withdraw.add_argument("id")
    withdraw.add_argument("--note")
    attachment = actions.add_parser("attachment", help="save an attachment, checked against its SHA-256")
    attachment.add_argument("message_id")
    attachment.add_argument("index", type=int)
    attachment.add_argument("--out", type=Path, required=True)


def _files(paths: list[Path]) -> list[tuple[str, str, bytes]]:
    return [(p.name, mimetypes.guess_type(p.name)[0] or "application/octet-stream", p.read_bytes()) for p in paths]


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    deployment = Deployment.load(args.state_dir)
    async with api_session(args.cacert or default_cacert(deployment.federation_dir)) as session:
        client = MlaClient.for_country(session, deployment, args.node.upper())
        if args.action == "create":
            fields = {"requested": args.to.upper(), "reference": args.reference, "kind": args.kind,
                      "legal_basis": args.legal_basis, "offences": args.offence, "measures": args.measure,
                      "urgency": args.urgency, "summary": args.summary, "deadline": args.deadline,
                      **{k: v for k, v in (("treaty", args.treaty), ("aggravating", args.aggravating),
                                           ("urgency_reason", args.urgency_reason)) if v}}
            status, result = await client.create(fields, _files(args.attach))
        elif args.action == "list":
            status, result = await client.list(direction=args.direction, state=args.state, due=args.due)
        elif args.action == "show":
            status, result = await client.view(args.id)
        elif args.action in ("act", "withdraw"):
            event = args.event if args.action == "act" else "withdraw"
            extra = {k: v for k, v in (("note", args.note), ("grounds", getattr(args, "ground", None))) if v}
            status, result = await client.act(args.id, event, _files(getattr(args, "attach", [])), **extra)
        else:
            status, content = await client.attachment(args.message_id, args.index)
            if status == 200:
                args.out.write_bytes(content)
                print(f"{len(content)} bytes -> {args.out}")
                return 0
            result = json.loads(content)
    print(json.dumps(result, indent=2))
    return 0 if status < 300 else 1


Say = Callable[[str], None]
WaitFor = Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]]


async def demo_scenario(session: aiohttp.ClientSession, deployment: Deployment, say: Say,
                        wait_for: WaitFor) -> list[tuple[str, bool]]:
    """ITA asks MEX to trace and freeze proceeds, with a bank-records attachment; MEX acknowledges,
    works on it and executes it. Returns the demo's checks."""
    ita = MlaClient.for_country(session, deployment, "ITA")
    mex = MlaClient.for_country(session, deployment, "MEX")
    records = b"date,account,amount\n2026-10-02,MX-0042,48000.00\n" * 2000
    status, created = await ita.create({
        "requested": "MEX", "reference": "ITA-PA-2026-117", "kind": "mutual_legal_assistance",
        "legal_basis": ["untoc_article_18", "smuggling_of_migrants_protocol"],
        "offences": ["art6_1_a_smuggling"], "aggravating": ["art6_3_a_endangering_lives_or_safety"],
        "measures": ["financial_investigation", "asset_tracing", "freezing"], "urgency": "urgent",
        "urgency_reason": "the proceeds are being moved", "deadline": None,
        "summary": "Smuggling network on the Lampedusa route; proceeds paid into accounts in Mexico.",
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
            await wait_for(what, probe)
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

    federation = load_federation(deployment.federation_dir, utcnow())
    auditor = {"Authorization": f"Bearer {federation.credentials('HUB').tokens['auditor']}"}
    expected = {"mla.request": 1, "mla.status": 2, "mla.response": 1, "receipt": 5}

    async def audited() -> list[dict] | None:
        async with session.get(f"http://127.0.0.1:{deployment.hub_http_port}/api/audit/entries",
                               params={"thread": thread}, headers=auditor) as r:
            entries = (await r.json())["entries"]
        types = [e["type"] for e in entries if e["verdict"] == "accepted"]
        return entries if all(types.count(t) == n for t, n in expected.items()) else None

    try:
        trail = await wait_for("the thread's whole trail in the auditor API", audited)
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
