"""Catching up at start-up: the newest directory and revocation list, fetched from the hub's API.

A node that was down learns of publications from the `hub.directory` / `hub.revocations`
broadcasts waiting in its inbox, but those expire (30 days) and an inbox can be purged or lost
with its broker. So before it consumes anything, a node with a hub API (`hub_api_url`) asks the hub
for the documents it holds (`GET /api/federation/{directory,revocations}`) and applies them as
it applies a broadcast: the root's signature and the serial succession are checked here, so a
hub serving an older or forged document changes nothing. A refusal is logged with its reason; one
that only a hostile or broken hub could cause (not the root's, another federation, malformed)
also raises the alarm `federation_fetch_refused`. An unreachable hub only delays the catch-up to
the broadcasts (a warning).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import aiohttp
import structlog

from crypto.directory import MAX_SIGNED_BYTES
from crypto.errors import CryptoError
from nodes.plumbing.api_client import Unreachable, get_bounded
from nodes.plumbing.config import utcnow
from nodes.plumbing.federation_state import catch_up

if TYPE_CHECKING:
    from nodes.national.parts import NodeBasics

log = structlog.get_logger("somex.federation_fetch")

KINDS = ("directory", "revocations")
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=10)
FETCH_ALARM = "federation_fetch_refused"


class HubUnavailable(Exception):
    """The hub's API did not hand over a document this time."""


async def fetch_newest_documents(node: NodeBasics) -> dict[str, str]:
    """Fetch and apply both documents; what became of each: "applied", "current" (the one in use),
    "refused:<reason>" or "unavailable". Call before the node consumes its inbox."""
    outcomes: dict[str, str] = {}
    if node.config.hub_api_url is None:
        return outcomes
    base = node.config.hub_api_url.rstrip("/")
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
        for kind in KINDS:
            bound = node.log.bind(kind=kind)
            try:
                raw = await _get(http, f"{base}/api/federation/{kind}")
            except HubUnavailable as exc:
                bound.warning("newest federation document not fetched from the hub: the broadcasts in the inbox "
                              "will bring it", detail=str(exc))
                outcomes[kind] = "unavailable"
                continue
            held = getattr(node.federation, kind).serial
            try:
                node.federation, document = await asyncio.to_thread(
                    catch_up, node.store.engine, node.federation, raw, kind, utcnow(), node.country)
            except CryptoError as exc:
                outcomes[kind] = f"refused:{exc.reason}"
                if exc.reason.startswith("stale_"):  # e.g. started before the hub got the root's newest
                    bound.warning("the hub served an older federation document: kept the one in use",
                                  reason=exc.reason, detail=exc.detail, serial=held)
                else:
                    node.alarms.raise_alarm(
                        f"{FETCH_ALARM}:{kind}", FETCH_ALARM,
                        f"the hub served a {kind} this node refused ({exc.reason}: {exc.detail}); the one in use "
                        f"(serial {held}) is kept. Ask the hub operator why; compare with the root operator's file")
                continue
            if document is None:
                outcomes[kind] = "current"
            else:
                outcomes[kind] = "applied"
                bound.info("caught up with the hub's newest federation document", serial=document.serial,
                           previous_serial=held)
    return outcomes


async def _get(http: aiohttp.ClientSession, url: str) -> bytes:
    try:
        status, raw = await get_bounded(http, url, MAX_SIGNED_BYTES)
    except Unreachable as exc:
        raise HubUnavailable(str(exc)) from None
    if status != 200:
        raise HubUnavailable(f"{url} answered {status}")
    return raw
