"""`somex inbox --node IDN`: what a running node has received (and sent), through its API."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from nodes.plumbing.api_client import add_cacert_argument, api_session, default_cacert
from nodes.plumbing.cli_support import CliError, api_error_line, country_code, deployment_of, emit, node_endpoint


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("inbox", help="list the messages a running node received (focal token)")
    parser.add_argument("--node", required=True, help="the node to read, e.g. IDN")
    parser.add_argument("--direction", choices=("in", "out"), default="in",
                        help="in: received (default), out: sent")
    parser.add_argument("--type", help="only this message type, e.g. note, mla.request")
    parser.add_argument("--thread", help="only this thread")
    parser.add_argument("--receipts", action="store_true", help="also list receipts (hidden by default)")
    parser.add_argument("--limit", type=int, default=50, help="at most this many, newest first (default 50)")
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                        help="wait up to SECONDS until at least one message is listed (exit 1 if none came)")
    add_cacert_argument(parser)


def run(args: argparse.Namespace) -> int:
    node = country_code(args.node, "--node")
    deadline = time.monotonic() + args.wait
    while True:
        messages = asyncio.run(_fetch(args, node))
        if not args.receipts and args.type != "receipt":
            messages = [m for m in messages if m.get("type") != "receipt"]
        if messages or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    emit(args, {"messages": messages}, "\n".join(_line(m) for m in messages) if messages
         else f"no {'received' if args.direction == 'in' else 'sent'} message at {node}")
    return 0 if messages or not args.wait else 1


async def _fetch(args: argparse.Namespace, node: str) -> list[dict[str, Any]]:
    deployment = deployment_of(args.state_dir)
    base, token = node_endpoint(deployment, node)
    query = {k: v for k, v in (("direction", args.direction), ("type", args.type), ("thread", args.thread),
                               ("limit", str(args.limit))) if v}
    async with api_session(args.cacert or default_cacert(deployment.federation_dir)) as session, session.get(
            f"{base}/messages", params=query, headers={"Authorization": f"Bearer {token}"}) as response:
        body = await response.json(content_type=None)
    if response.status != 200:
        raise CliError(f"inbox {api_error_line(response.status, body)}")
    return body["messages"]


def _line(message: dict[str, Any]) -> str:
    """One message for a person: when, type, who, and what it says when that is short."""
    body = message.get("body")
    said = body.get("text") if isinstance(body, dict) and isinstance(body.get("text"), str) else ""
    when = str(message.get("created", ""))[:19].replace("T", " ")
    peers = message.get("sender") if message.get("direction") == "in" else ",".join(message.get("recipients") or [])
    text = f"  {said[:60]!r}" if said else ""
    line = f"{when}  {message.get('type', ''):<20} {peers:<8} {message.get('message_id')}{text}"
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in line)  # a peer's text, on our terminal
