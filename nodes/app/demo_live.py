"""The demo's live federation step: a country admitted while everything runs (its own keys, the
root's admission, the directory published through the hub), then a live revocation of its key and
of its TLS certificate at the broker."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from crypto.join import fingerprint
from nodes.app import ceremony
from nodes.plumbing.cli_support import hub_endpoint
from nodes.plumbing.config import utcnow
from nodes.plumbing.deployment import Deployment
from nodes.plumbing.federation import DIRECTORY_FILE, REVOCATIONS_FILE, TLS_CRL_FILE, load_federation
from nodes.app.root_operator import revoke
from nodes.app.local import NodeClient, broker_up, publish_federation_file

NEWCOMER = "FRA"


async def live_federation_scenario(session: aiohttp.ClientSession, deployment: Deployment,
                                   start_node: Callable[[str], None], say: Callable[[str], None],
                                   wait_for: Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]],
                                   ) -> list[tuple[str, bool]]:
    checks: list[tuple[str, bool]] = []
    home = deployment.federation_dir
    say(f"\n== {NEWCOMER} joins while the federation runs")
    request = ceremony.init_node(home, NEWCOMER, {"organisation": "demo focal point"})
    say(f"{NEWCOMER}'s host: keys made there, join request fingerprint {fingerprint(request)[:29]}…")
    admitted = ceremony.admit_request(home, request, utcnow())
    say(f"root operator: {NEWCOMER} admitted, directory serial {admitted.serial}")
    ceremony.install_admission(home, NEWCOMER, admitted.bundle_path.read_bytes(), utcnow())
    ceremony.create_local_tokens(home, NEWCOMER)
    deployment = broker_up(deployment.state_dir)  # the broker operator adds its user and inbox
    published = await publish_federation_file(deployment.state_dir, home / DIRECTORY_FILE)
    say(f"hub operator: directory serial {published['serial']} published to {', '.join(published['recipients'])}")
    start_node(NEWCOMER)
    fra = NodeClient.for_country(session, deployment, NEWCOMER)
    mex = NodeClient.for_country(session, deployment, "MEX")
    await wait_for(f"{NEWCOMER} node", lambda: _connected(fra))
    note = await fra.send({"type": "note", "to": ["MEX"], "body": {"text": "Bonjour: joining the exchange"}})
    say(f"{NEWCOMER} -> MEX  note {note['id']}")
    checks.append((f"{NEWCOMER}, admitted while running, reached MEX with nobody restarted",
                   await _eventually(wait_for, f"{NEWCOMER}'s note at MEX", lambda: _received(mex, note["id"]))))

    # A member witnesses while it is one: its cosignature of a checkpoint after its admission is in
    # the log before its key is revoked, so the quorum of the directory that lists it can be met.
    checks.append((f"{NEWCOMER} witnessed the log before its revocation",
                   await _eventually(wait_for, f"{NEWCOMER}'s cosignature in the hub's log",
                                     lambda: _cosigned(session, deployment, NEWCOMER))))

    kid = load_federation(home, utcnow()).credentials(NEWCOMER).signing_key.kid
    revoke(home, kid, utcnow())
    started = time.monotonic()
    published = await publish_federation_file(deployment.state_dir, home / REVOCATIONS_FILE)
    say(f"\n== root operator revokes {NEWCOMER}'s key {kid[:16]}…; revocation list serial {published['serial']} "
        "published through the hub")
    refused = await fra.send({"type": "note", "to": ["MEX"], "body": {"text": "signed by a revoked key"}})

    async def rejected() -> bool:
        return any(m["body"]["of"] == refused["id"] and m["body"]["reason"] == "revoked_key"
                   for m in await fra.messages(type="hub.rejection"))

    in_time = await _eventually(wait_for, "the hub's rejection of the revoked key", rejected)
    elapsed = time.monotonic() - started
    say(f"{NEWCOMER}'s next message {refused['id']} rejected: revoked_key, {elapsed:.1f} s after publication")
    checks.append((f"{NEWCOMER}'s revoked key refused by the running hub, no restart", in_time))
    checks.append(("MEX never received the message signed by the revoked key",
                   not await _received(mex, refused["id"])))

    # The TLS side of the same revocation: `revoke` also put FRA's TLS certificate on the TLS CA's
    # CRL; installed in the running broker, it closes FRA's connection and refuses the next one.
    published = await publish_federation_file(deployment.state_dir, home / TLS_CRL_FILE)
    say(f"broker operator: TLS revocation list {published['crl_number']} installed, no restart; connections "
        f"closed: {', '.join(published['closed_connections_of']) or 'none'}")

    async def cut_off() -> bool:
        return not (await fra.health()).get("broker_connected")

    checks.append((f"{NEWCOMER}'s TLS certificate refused by the running broker (its connection closed)",
                   await _eventually(wait_for, f"{NEWCOMER} cut off from the broker", cut_off)))
    checks.append(("MEX still connected to the broker",
                   await _eventually(wait_for, "MEX connected", lambda: _connected(mex))))
    return checks


async def _eventually(wait_for: Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]], what: str,
                      probe: Callable[[], Awaitable[Any]]) -> bool:
    try:
        await wait_for(what, probe)
        return True
    except TimeoutError:
        return False


async def _cosigned(session: aiohttp.ClientSession, deployment: Deployment, witness: str) -> bool:
    base, token = hub_endpoint(deployment, "auditor")
    async with session.get(f"{base}/audit/entries", params={"sender": witness, "type": "witness.cosign",
                                                            "verdict": "accepted", "limit": "1"},
                           headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status == 200 and bool((await r.json())["entries"])


async def _connected(client: NodeClient) -> bool:
    return bool((await client.health()).get("broker_connected"))


async def _received(client: NodeClient, message_id: str) -> bool:
    return any(m["message_id"] == message_id for m in await client.messages(direction="in"))
