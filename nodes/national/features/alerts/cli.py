"""`somex feed push FILE --country X`: stream a feed to a running node, with a progress bar."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp

from nodes.plumbing.api_client import add_cacert_argument, api_session, default_cacert


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `somex feed ...` on the CLI's subcommand parsers."""
    feed = sub.add_parser("feed", help="alert feeds").add_subparsers(dest="action", required=True)
    push = feed.add_parser("push", help="stream an NDJSON or CSV file of alerts to a running node (feed token)")
    push.add_argument("file", type=Path, help="the feed: one alert per line (docs/examples/alerts.ndjson, "
                                               "docs/alerts.md)")
    push.add_argument("--country", required=True, help="the node (and issuing country) to push to")
    push.add_argument("--format", choices=["ndjson", "csv"], help="default: from the file name (.csv or NDJSON)")
    add_cacert_argument(push)


def run(args: argparse.Namespace) -> int:
    from nodes.plumbing.cli_support import country_code

    return push_feed(args.state_dir, country_code(args.country, "--country"), args.file, args.format, args.cacert)


async def push_file(base_url: str, token: str, path: Path, fmt: str, progress: Callable[[int, int], None],
                    cacert: Path | None = None) -> dict:
    """`somex feed push`: stream a file to a node's /api/feeds, calling progress(sent, total) as it goes;
    an HTTPS node's certificate is checked against `cacert`."""
    total = path.stat().st_size
    content_type = {"ndjson": "application/x-ndjson", "csv": "text/csv"}[fmt]

    async def chunks() -> AsyncIterator[bytes]:
        sent = 0
        with path.open("rb") as source:
            while block := source.read(256 * 1024):
                sent += len(block)
                progress(sent, total)
                yield block

    session = api_session(cacert) if cacert else aiohttp.ClientSession()
    async with session, session.post(
            f"{base_url}/feeds", data=chunks(), timeout=aiohttp.ClientTimeout(total=None),
            headers={"Authorization": f"Bearer {token}", "Content-Type": content_type}) as response:
        return await response.json()


def _bar(sent: int, total: int, started: float) -> None:
    share = sent / total if total else 1.0
    filled = int(share * 30)
    rate = sent / max(time.monotonic() - started, 1e-6) / 1e6
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {share:6.1%}  {sent / 1e6:8.1f} MB  {rate:5.1f} MB/s")
    sys.stderr.flush()


def push_feed(state_dir: Path, country: str, path: Path, fmt: str | None, cacert: Path | None = None) -> int:
    from nodes.plumbing.cli_support import CliError, deployment_of, node_endpoint

    if not path.is_file():
        raise CliError(f"no such file {path}: give an NDJSON or CSV feed (example: docs/examples/alerts.ndjson)")
    deployment = deployment_of(state_dir)
    base, token = node_endpoint(deployment, country, "feed")
    started = time.monotonic()
    report = asyncio.run(push_file(base, token, path, fmt or ("csv" if path.suffix.lower() == ".csv" else "ndjson"),
                                   lambda sent, total: _bar(sent, total, started),
                                   cacert or default_cacert(deployment.federation_dir)))
    sys.stderr.write("\n")
    if "error" in report:
        print(f"somex: feed refused ({report['error']}): {report.get('detail', '')}", file=sys.stderr)
        return 1
    print(f"job {report['job_id']}: {report['status']}, {report['lines']} lines, {report['accepted']} alerts sent "
          f"in {report['batches']} signed batches, {report['duplicates']} already sent, {report['rejected']} refused")
    for error in report["errors"][:20]:
        print(f"  line {error['line']}: {error['field']}: {error['reason']} ({error['detail']})")
    if report["rejected"] > 20:
        print(f"  ... every refused line: GET {base}/feeds/{report['job_id']}")
    return 0 if report["status"] == "done" and not report["rejected"] else 1
