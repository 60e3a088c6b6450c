"""`somex person check`: a border check from the command line, through a running node's API
(the same call as the console's page): `somex person check --country ITA --mrz-file zone.txt`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import aiohttp

from nodes.plumbing.cli_support import CliError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    person = subparsers.add_parser("person", help="person alerts: border checks through a running node")
    actions = person.add_subparsers(dest="person_action", required=True)
    check = actions.add_parser("check", help="check a passport zone (or a document) against the node's replicas")
    check.add_argument("--url", required=True, help="the node's API, e.g. http://127.0.0.1:8443")
    check.add_argument("--token", required=True, help="a focal or carrier token of that node")
    check.add_argument("--mrz-file", type=Path, help="the machine-readable zone, as text ('-': standard input)")
    check.add_argument("--name", help="the traveller's name, in any script")
    check.add_argument("--date-of-birth", help="YYYY, YYYY-MM or YYYY-MM-DD")
    check.add_argument("--point", default="", help="where the check happens (told to the issuer on a hit)")


def run(args: argparse.Namespace) -> int:
    import asyncio

    if args.mrz_file is None:
        raise CliError("give --mrz-file (a document check goes through POST /api/border/check as JSON)")
    zone = sys.stdin.read() if str(args.mrz_file) == "-" else args.mrz_file.read_text()
    body = {"mrz": zone, "point": args.point, **({"name": args.name} if args.name else {}),
            **({"date_of_birth": args.date_of_birth} if args.date_of_birth else {})}

    async def call() -> tuple[int, dict]:
        async with aiohttp.ClientSession() as session, session.post(
                f"{args.url.rstrip('/')}/api/border/check", json=body,
                headers={"Authorization": f"Bearer {args.token}"}) as r:
            return r.status, await r.json()

    status, answer = asyncio.run(call())
    print(json.dumps(answer, ensure_ascii=False, indent=2))
    return 0 if status == 200 and not answer.get("hit") else (3 if status == 200 else 2)
