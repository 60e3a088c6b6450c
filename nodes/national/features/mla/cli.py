"""`somex mla ...`: a focal point's MLA requests through a running node's API (the demo's MLA scenario
uses the same client: demo.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import mimetypes
import sys
from pathlib import Path
from typing import Any

import aiohttp

from nodes.plumbing.api_client import add_cacert_argument, api_session, default_cacert
from nodes.plumbing.cli_support import CliError, api_error_line, country_code, deployment_of, emit, node_endpoint, \
    wants_json
from nodes.plumbing.deployment import Deployment
from protocol import mla


class MlaClient:
    """The MLA routes of one node's HTTP API, as a focal point uses them."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self._session, self.base_url = session, base_url
        self._headers = {"Authorization": f"Bearer {token}"}

    @classmethod
    def for_country(cls, session: aiohttp.ClientSession, deployment: Deployment, country: str) -> MlaClient:
        base, token = node_endpoint(deployment, country)
        return cls(session, f"{base}/mla", token)

    @staticmethod
    def _form(name: str, fields: dict[str, Any], files: list[tuple[str, str, bytes]]) -> aiohttp.FormData:
        form = aiohttp.FormData()
        form.add_field(name, json.dumps(fields), content_type="application/json")
        for filename, media_type, content in files:
            form.add_field("attachment", content, filename=filename, content_type=media_type)
        return form

    async def _call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self._session.request(method, f"{self.base_url}{path}", headers=self._headers, **kwargs) as r:
            return r.status, await r.json(content_type=None)

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
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="seal and send a request to the requested State")
    create.add_argument("--to", required=True, help="the requested State")
    create.add_argument("--reference", required=True, help="your reference for the request, e.g. ITA-1")
    create.add_argument("--kind", choices=mla.KINDS, default="mutual_legal_assistance", help="the kind of request")
    create.add_argument("--legal-basis", action="append", choices=mla.LEGAL_BASES, required=True,
                        help="a legal basis (repeatable)")
    create.add_argument("--treaty", help="the bilateral treaty, when that is the legal basis")
    create.add_argument("--offence", action="append", choices=mla.OFFENCES, required=True,
                        help="an offence (repeatable)")
    create.add_argument("--aggravating", action="append", choices=mla.AGGRAVATING,
                        help="an aggravating circumstance (repeatable)")
    create.add_argument("--measure", action="append", choices=mla.MEASURES, required=True,
                        help="a measure asked for (repeatable)")
    create.add_argument("--urgency", choices=mla.URGENCIES, default="routine", help="default: routine")
    create.add_argument("--urgency-reason", help="why it is urgent (needed when it is)")
    create.add_argument("--deadline", help="YYYY-MM-DD")
    create.add_argument("--summary", required=True, help="summary of the facts")
    create.add_argument("--language", required=True, help="the request's language, ISO 639-1 (e.g. en, es, ar)")
    create.add_argument("--detail", action="append", default=[], metavar="MEASURE.FIELD=TEXT",
                        help="a field of a measure's template, e.g. asset_tracing.institution='Banco X' (repeatable; "
                             "each measure's fields: docs/profiles.md)")
    create.add_argument("--treaty-override", help="extradition on the Convention to a State that requires a treaty: "
                                                  "why (recorded in the request)")
    create.add_argument("--attach", action="append", type=Path, default=[], help="a file to attach (repeatable)")
    listing = actions.add_parser("list", help="requests sent and received")
    listing.add_argument("--direction", choices=("in", "out"), help="in: received, out: sent (default: both)")
    listing.add_argument("--state", choices=[s.value for s in mla.State], help="only requests in this state")
    listing.add_argument("--due", choices=("overdue", "soon"), help="only requests past or near their deadline")
    show = actions.add_parser("show", help="a request, opened, with its whole timeline")
    show.add_argument("id", help="the request's id (from 'list')")
    act = actions.add_parser("act", help="acknowledge, start, request or supply information, execute, refuse, "
                                         "withdraw, remind")
    act.add_argument("id", help="the request's id (from 'list')")
    act.add_argument("event", choices=mla.MESSAGE_EVENTS, help="what this State does")
    act.add_argument("--note", help="a note sent with the event (sealed)")
    act.add_argument("--language", help="the note's language, an ISO 639-1 code (default: the first language of "
                                        "this node's profile)")
    act.add_argument("--ground", action="append", choices=mla.REFUSAL_GROUNDS, help="for refuse (repeatable)")
    act.add_argument("--attach", action="append", type=Path, default=[], help="a file to attach (repeatable)")
    withdraw = actions.add_parser("withdraw", help="withdraw a request this State made")
    withdraw.add_argument("id", help="the request's id (from 'list')")
    withdraw.add_argument("--note", help="why (sent sealed)")
    withdraw.add_argument("--language", help="the note's language, an ISO 639-1 code")
    attachment = actions.add_parser("attachment", help="save an attachment, checked against its SHA-256")
    attachment.add_argument("message_id", help="the message carrying it (the request's id, or an answer's)")
    attachment.add_argument("index", type=int, help="its position in the message, from 0")
    attachment.add_argument("--out", type=Path, required=True, help="the file to write")


def _files(paths: list[Path]) -> list[tuple[str, str, bytes]]:
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise CliError(f"--attach {missing[0]}: no such file; give the path of a file to attach "
                       "(example: docs/examples/bank-records.pdf)")
    return [(p.name, mimetypes.guess_type(p.name)[0] or "application/octet-stream", p.read_bytes()) for p in paths]


def _details(items: list[str]) -> dict[str, dict[str, str]]:
    """`--detail measure.field=text` options as the request's `measure_details`."""
    details: dict[str, dict[str, str]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        measure, dot, name = key.partition(".")
        if not sep or not dot or measure not in mla.MEASURE_TEMPLATES or name not in mla.measure_fields(measure):
            raise CliError(f"--detail {item[:60]!r}: give MEASURE.FIELD=TEXT with a field of that measure's template, "
                           "e.g. asset_tracing.institution='Banco Ficticio' (docs/profiles.md)")
        details.setdefault(measure, {})[name] = text
    return details


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    deployment = deployment_of(args.state_dir)
    files = _files(getattr(args, "attach", []))  # before any call: a wrong path is a mistake, not a half-done act
    details = _details(getattr(args, "detail", []))  # so is a field no measure's template has
    async with api_session(args.cacert or default_cacert(deployment.federation_dir)) as session:
        client = MlaClient.for_country(session, deployment, country_code(args.node, "--node"))
        if args.action == "create":
            fields = {"requested": args.to.upper(), "reference": args.reference, "kind": args.kind,
                      "legal_basis": args.legal_basis, "offences": args.offence, "measures": args.measure,
                      "urgency": args.urgency, "summary": args.summary, "deadline": args.deadline,
                      "language": args.language,
                      **{k: v for k, v in (("treaty", args.treaty), ("aggravating", args.aggravating),
                                           ("urgency_reason", args.urgency_reason),
                                           ("treaty_override", args.treaty_override),
                                           ("measure_details", details)) if v}}
            status, result = await client.create(fields, files)
        elif args.action == "list":
            status, result = await client.list(direction=args.direction, state=args.state, due=args.due)
        elif args.action == "show":
            status, result = await client.view(args.id)
        elif args.action in ("act", "withdraw"):
            event = args.event if args.action == "act" else "withdraw"
            extra = {k: v for k, v in (("note", args.note), ("grounds", getattr(args, "ground", None)),
                                       ("language", args.language)) if v}
            status, result = await client.act(args.id, event, files, **extra)
        else:
            status, content = await client.attachment(args.message_id, args.index)
            if status == 200:
                args.out.write_bytes(content)
                print(f"{len(content)} bytes -> {args.out}")
                return 0
            result = json.loads(content)
    if status >= 300:
        if wants_json(args):
            print(json.dumps(result, indent=2))
        print(f"somex: mla {args.action} {api_error_line(status, result)}", file=sys.stderr)
        return 1
    emit(args, result, _human(args.action, result))
    return 0


def _human(action: str, result: Any) -> str:
    """What a person reads on a terminal; --json gives the API's answer as it is."""
    if action == "list":
        rows = result.get("requests", [])
        if not rows:
            return "no request"
        return "\n".join(f"{r.get('id')}  {r.get('reference', ''):<16} {r.get('direction', ''):<3} "
                         f"{r.get('state', ''):<14} {r.get('requesting', '')} -> {r.get('requested', '')}"
                         for r in rows)
    if action == "show":
        request = result.get("request") or {}
        lines = [f"{request.get('reference', '')} ({result.get('state', '')}): {request.get('summary', '')}"]
        lines += [f"  attachment {i}: {a.get('name')} ({a.get('size')} bytes)"
                  for i, a in enumerate(request.get("attachments") or [])]
        lines += [f"  {t.get('at')}  {t.get('what'):<22} by {t.get('by')}" for t in result.get("timeline", [])]
        return "\n".join(lines)
    return " ".join(f"{k}={v}" for k, v in result.items() if not isinstance(v, dict | list))
