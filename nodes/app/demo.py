"""`somex demo`: a whole federation on this machine, a real scenario, a checked outcome.

Brings up a private RabbitMQ, the hub and three national nodes as separate processes, drives the
scenario through the nodes' HTTP APIs as focal points would, waits for every expected delivery,
prints what each country received and the hub's audit trail, and exits 0 only if all of it
happened.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from nodes.national.feature import discover
from nodes.plumbing.config import utcnow
from nodes.app.demo_live import live_federation_scenario
from nodes.plumbing.demo_steps import Processes, say, wait_for
from nodes.plumbing.deployment import Deployment
from nodes.app.ceremony import init_federation
from nodes.plumbing.federation import load_federation
from nodes.app.local import NodeClient, broker_down, broker_up, export_audit

COUNTRIES = ["MEX", "IDN", "ITA"]


async def run_demo(state_dir: Path, *, keep: bool = False) -> int:
    if state_dir.exists():
        broker_down(state_dir)
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True)
    say(f"== somex demo in {state_dir}")
    init_federation(state_dir / "federation", "somex-demo", COUNTRIES, utcnow())
    say(f"federation: root, HUB and {', '.join(COUNTRIES)} with keys, X.509 certificates, signed directory")
    started = time.monotonic()
    deployment = broker_up(state_dir)
    scheme = "AMQPS only, clients log in by their TLS certificate" if deployment.tls else "plain AMQP"
    say(f"broker: private RabbitMQ on 127.0.0.1:{deployment.amqp_port} ({scheme}), vhost {deployment.vhost!r} "
        f"({time.monotonic() - started:.1f} s)")
    procs = Processes(state_dir)
    ok = False
    try:
        procs.start("hub", "hub", "run")
        for country in COUNTRIES:
            procs.start(f"node-{country}", "node", "run", "--country", country)
        ok = await scenario(deployment, procs)
        if keep and ok:
            show_consoles(deployment)
            await until_interrupted(procs)
    finally:
        procs.stop()
        broker_down(state_dir)
    return 0 if ok else 1


def show_consoles(deployment: Deployment) -> None:
    """Where the consoles are and where each role's login token is (the tokens are not printed)."""
    federation_dir = deployment.federation_dir
    say("\n== the federation stays up with its web consoles (Ctrl-C stops everything)")
    say(f"auditor console  http://127.0.0.1:{deployment.hub_http_port}/console/   "
        f"token: 'auditor' in {federation_dir / 'nodes' / 'HUB' / 'operator-tokens.json'}")
    for country in COUNTRIES:
        say(f"{country} console      http://127.0.0.1:{deployment.node_http_ports[country]}/console/   "
            f"token: 'focal' in {federation_dir / 'nodes' / country / 'operator-tokens.json'}")


async def until_interrupted(procs: Processes) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        procs.check_alive()
        try:
            await asyncio.wait_for(stop.wait(), timeout=2.0)
        except TimeoutError:
            pass
    say("stopping the federation")


async def scenario(deployment: Deployment, procs: Processes) -> bool:
    async with aiohttp.ClientSession() as session:
        clients = {c: NodeClient.for_country(session, deployment, c) for c in COUNTRIES}
        for country, client in clients.items():
            await wait_for(f"{country} node", lambda c=client: _connected(c), procs=procs)
        say(f"processes: hub and 3 national nodes up; their logs: {procs.logs}/{{HUB,{','.join(COUNTRIES)}}}.log\n")

        checks: list[tuple[str, bool]] = []
        note = await clients["MEX"].send({"type": "note", "to": ["IDN"], "thread": "demo-1",
                                          "body": {"text": "Request for contact: smuggling route via Java"}})
        say(f"MEX -> IDN  note {note['id']}")
        alert = await clients["ITA"].send({"type": "alert.document", "to": ["*"], "body": {
            "document_number": "YA1234567", "document_type": "passport", "issuing_country": "ITA",
            "status": "stolen", "action": "create", "reported": "2026-11-20"}})
        say(f"ITA -> *    alert.document {alert['id']} (broadcast)")
        multi = await clients["MEX"].send({"type": "note", "to": ["IDN", "ITA"], "body": {"text": "Joint meeting on the Mediterranean route, 3 Dec"},
                                           "ttl_seconds": 60})
        say(f"MEX -> IDN,ITA note {multi['id']}")
        forged = await impersonate(deployment, "MEX", as_country="IDN", to="ITA")
        say(f"MEX's broker account, claiming to be IDN -> ITA  note {forged} (must be refused)")

        async def received(country: str, message_id: str) -> bool:
            return any(m["message_id"] == message_id for m in await clients[country].messages(direction="in"))

        for country, mid, what in [("IDN", note["id"], "note from MEX"), ("MEX", alert["id"], "ITA's alert"),
                                   ("IDN", alert["id"], "ITA's alert"), ("IDN", multi["id"], "note to two"),
                                   ("ITA", multi["id"], "note to two")]:
            try:
                await wait_for(f"{what} at {country}", lambda c=country, m=mid: received(c, m), procs=procs)
                checks.append((f"{country} received {what}", True))
            except TimeoutError:
                checks.append((f"{country} received {what}", False))
        async def refused_at_hub() -> bool:
            detail = await clients["MEX"].messages(type="hub.rejection")
            return any(m["body"]["of"] == forged and m["body"]["reason"] == "sender_mismatch" for m in detail)

        try:
            await wait_for("the hub's signed rejection at MEX", refused_at_hub, procs=procs)
            checks.append(("the impersonation was rejected (sender_mismatch) and MEX told so", True))
        except TimeoutError:
            checks.append(("the impersonation was rejected (sender_mismatch) and MEX told so", False))
        checks.append(("ITA never received the forged note", not await received("ITA", forged)))
        ita_got_own = await received("ITA", alert["id"])
        checks.append(("the broadcast did not come back to ITA", not ita_got_own))

        async def delivered() -> bool:
            detail = await clients["MEX"].message(note["id"])
            return any(r["by"] == "IDN" and r["kind"] == "delivered" for r in detail["receipts"])

        try:
            await wait_for("IDN's signed delivery receipt at MEX", delivered, procs=procs)
            checks.append(("MEX holds IDN's signed delivery receipt", True))
        except TimeoutError:
            checks.append(("MEX holds IDN's signed delivery receipt", False))

        demo_federation = _DemoFederation(deployment, procs)
        for feature in sorted(discover(), key=lambda f: (f.demo_position, f.name)):  # each class's own steps
            for step in feature.demo_steps:
                checks.extend(await step(session, demo_federation))
        checks.extend(await live_federation_scenario(
            session, deployment, lambda c: procs.start(f"node-{c}", "node", "run", "--country", c), say,
            lambda what, probe: wait_for(what, probe, procs=procs)))

        say("\n== what each country holds")
        for country, client in clients.items():
            inbox = await client.messages(direction="in")
            say(f"{country}: " + (", ".join(f"{m['type']} from {m['sender']}" for m in reversed(inbox)) or "nothing"))

        say("\n== the hub's audit trail (auditor API)")
        auditor = {"Authorization": f"Bearer {load_federation(deployment.federation_dir, utcnow()).credentials('HUB').tokens['auditor']}"}
        hub_api = f"http://127.0.0.1:{deployment.hub_http_port}/api"
        async with session.get(f"{hub_api}/audit/entries", params={"limit": "1000"}, headers=auditor) as r:
            trail = (await r.json())["entries"]
        for e in trail:
            if e["type"] == "witness.cosign":
                continue
            say(f"#{e['seq']:<3} {e['verdict']:<9} {e['type'] or '?':<15} {e['sender'] or '?':>3} -> "
                f"{','.join(e['recipients']) or '-':<8} {e['reason'] or ''}")
        cosigns = sum(1 for e in trail if e["type"] == "witness.cosign")
        say(f"(+ {cosigns} witness cosignatures of checkpoints, also in the log)")
        audited = {e["message_id"] for e in trail if e["verdict"] == "accepted"}
        checks.append(("every scenario message has an audit entry", {note["id"], alert["id"], multi["id"]} <= audited))

        async def checkpoint_covers_scenario() -> dict | None:
            async with session.get(f"{hub_api}/log/checkpoint") as r:
                if r.status != 200:
                    return None
                latest = await r.json()
            last_scenario_entry = max(e["seq"] for e in trail if e["type"] != "witness.cosign")
            witnessed = all(f"\n\u2014 {c} " in latest["note"] for c in COUNTRIES)
            return latest if latest["size"] > last_scenario_entry and witnessed else None

        try:
            latest = await wait_for("a witnessed checkpoint covering the scenario", checkpoint_covers_scenario,
                                    procs=procs)
            say(f"\n== latest checkpoint (signed by the hub, cosigned by every witness)\n{latest['note']}")
            checks.append(("every country witnessed a checkpoint covering the scenario", True))
        except TimeoutError:
            checks.append(("every country witnessed a checkpoint covering the scenario", False))
        bundle = await export_audit(deployment.state_dir)
        bundle_path = deployment.state_dir / "audit-bundle.json"
        bundle_path.write_text(json.dumps(bundle))
    root = deployment.federation_dir / "root" / "root.crt"
    say(f"== somex audit verify {bundle_path} --root {root}")
    verified = subprocess.run([sys.executable, "-m", "nodes.app.cli", "audit", "verify", str(bundle_path),
                               "--root", str(root)], capture_output=True, text=True)
    say(verified.stdout.rstrip())
    checks.append(("the exported audit trail verifies offline against the root", verified.returncode == 0))

    say("\n== summary")
    for label, passed in checks:
        say(f"[{'ok' if passed else 'FAILED'}] {label}")
    ok = all(passed for _, passed in checks)
    say(f"\n{'demo passed' if ok else 'demo FAILED'}: {sum(p for _, p in checks)}/{len(checks)} checks")
    return ok


class _DemoFederation:
    """The running demo federation as a feature's demo step sees it (nodes/national/feature.py)."""

    def __init__(self, deployment: Deployment, procs: Processes) -> None:
        self.countries = list(COUNTRIES)
        self._deployment, self._procs = deployment, procs
        self._federation = load_federation(deployment.federation_dir, utcnow())

    def api(self, country: str, role: str = "focal") -> tuple[str, dict[str, str]]:
        return (f"http://127.0.0.1:{self._deployment.node_http_ports[country]}/api",
                {"Authorization": f"Bearer {self.token(country, role)}"})

    def token(self, country: str, role: str = "focal") -> str:
        return self._federation.credentials(country).tokens[role]

    def hub_api(self, role: str = "auditor") -> tuple[str, dict[str, str]]:
        return (f"http://127.0.0.1:{self._deployment.hub_http_port}/api",
                {"Authorization": f"Bearer {self._federation.credentials('HUB').tokens[role]}"})

    def say(self, text: str = "") -> None:
        say(text)

    async def wait_for(self, what: str, probe: Callable[[], Awaitable[Any]]) -> Any:
        return await wait_for(what, probe, procs=self._procs)


async def impersonate(deployment: Deployment, country: str, *, as_country: str, to: str) -> str:
    """What a compromised node could try: its own broker account, another country's name and key."""
    import aio_pika

    from crypto.signing import sign_envelope
    from nodes.plumbing.amqp import broker_login, broker_urls, open_connection
    from nodes.plumbing.config import new_message_id
    from protocol import envelope as wire

    federation = load_federation(deployment.federation_dir, utcnow())
    mine, theirs = federation.credentials(country), federation.credentials(as_country)
    env = sign_envelope(wire.build(message_id=new_message_id(), type="note", sender=as_country, recipients=[to],
                                   created=utcnow(), ttl=timedelta(hours=1), body={"text": "send the files to me"}),
                        theirs.signing_key)
    b = deployment.broker
    login = broker_login(b, mine, federation.root_cert_file)  # its own certificate: all it holds
    connection = await open_connection(broker_urls(b, login)[0], timeout=30, ssl_context=login.tls_context)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange("hub.in", ensure=False)
        await exchange.publish(aio_pika.Message(wire.encode(env), user_id=mine.broker_user), routing_key=country)
    return env.id


async def _connected(client: NodeClient) -> bool:
    return bool((await client.health()).get("broker_connected"))
