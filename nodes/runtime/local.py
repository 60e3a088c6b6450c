"""Operator actions on a federation that runs on this machine (broker up/down, sending a note)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import structlog

from nodes.runtime.config import utcnow
from nodes.runtime.deployment import Deployment, broker_spec
from nodes.runtime.federation import load_federation
from nodes.runtime.cluster import PrivateCluster, is_cluster
from nodes.runtime.rabbit import PrivateBroker, free_port

log = structlog.get_logger("somex.local")


def broker_up(state_dir: Path, amqp_port: int = 0, cluster: int = 1) -> Deployment:
    """Start the private broker (or a `cluster`-node RabbitMQ cluster) and load the federation."""
    federation = load_federation(state_dir / "federation", utcnow())
    broker_dir = state_dir / "broker"
    running = _recorded_broker(broker_dir)
    if running is not None and running.status().get("running"):
        log.info("broker already running", state_dir=str(broker_dir))
        return Deployment.load(state_dir)
    PrivateBroker.ensure_installed()
    if cluster > 1:
        broker: PrivateBroker | PrivateCluster = PrivateCluster.create(broker_dir, cluster, amqp_port)
        log.info("starting a RabbitMQ cluster", nodes=cluster)
        broker.start()
        ports = broker.amqp_ports
    else:
        broker = PrivateBroker(broker_dir, amqp_port=amqp_port or free_port(), mgmt_port=free_port(),
                               dist_port=free_port(), nodename=f"somex-{free_port()}@localhost")
        broker.start()
        ports = [broker.amqp_port]
    deployment = Deployment(state_dir, ports[0], vhost="somex", hub_http_port=free_port(),
                            node_http_ports={c: free_port() for c in federation.directory.node_ids()},
                            more_amqp_ports=ports[1:])
    broker.apply(broker_spec(federation, deployment.vhost))
    deployment.save()
    log.info("broker up", amqp_ports=ports, vhost=deployment.vhost)
    return deployment


def _recorded_broker(broker_dir: Path) -> PrivateBroker | PrivateCluster | None:
    if is_cluster(broker_dir):
        return PrivateCluster.from_state_dir(broker_dir)
    if (broker_dir / "broker.json").exists():
        return PrivateBroker.from_state_dir(broker_dir)
    return None


def broker_down(state_dir: Path) -> None:
    broker = _recorded_broker(state_dir / "broker")
    if broker is None:
        log.info("no broker recorded here", state_dir=str(state_dir))
        return
    broker.stop()
    log.info("broker stopped")


def broker_status(state_dir: Path) -> dict[str, Any]:
    broker = _recorded_broker(state_dir / "broker")
    if broker is None:
        return {"running": False, "detail": f"no broker recorded in {state_dir / 'broker'}"}
    return broker.status()


class NodeClient:
    """A focal point's view of one node's HTTP API."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self._session, self.base_url = session, base_url
        self._headers = {"Authorization": f"Bearer {token}"}

    @classmethod
    def for_country(cls, session: aiohttp.ClientSession, deployment: Deployment, country: str,
                    role: str = "focal") -> NodeClient:
        federation = load_federation(deployment.federation_dir, utcnow())
        port = deployment.node_http_ports[country]
        return cls(session, f"http://127.0.0.1:{port}/api", federation.credentials(country).tokens[role])

    async def health(self) -> dict[str, Any]:
        async with self._session.get(f"{self.base_url}/health") as r:
            return await r.json()

    async def send(self, payload: dict[str, Any]) -> dict[str, Any]:
        async with self._session.post(f"{self.base_url}/messages", json=payload, headers=self._headers) as r:
            return await r.json()

    async def messages(self, **query: str) -> list[dict[str, Any]]:
        async with self._session.get(f"{self.base_url}/messages", params=query, headers=self._headers) as r:
            r.raise_for_status()
            return (await r.json())["messages"]

    async def message(self, message_id: str) -> dict[str, Any]:
        async with self._session.get(f"{self.base_url}/messages/{message_id}", headers=self._headers) as r:
            return await r.json()


async def send_note(state_dir: Path, sender: str, to: list[str], text: str, thread: str | None) -> dict[str, Any]:
    deployment = Deployment.load(state_dir)
    async with aiohttp.ClientSession() as session:
        client = NodeClient.for_country(session, deployment, sender)
        payload: dict[str, Any] = {"type": "note", "to": to, "body": {"text": text}}
        if thread:
            payload["thread"] = thread
        return await client.send(payload)


async def export_audit(state_dir: Path, **query: str | None) -> dict[str, Any]:
    deployment = Deployment.load(state_dir)
    token = load_federation(deployment.federation_dir, utcnow()).credentials("HUB").tokens["auditor"]
    params = {k: v for k, v in query.items() if v}
    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{deployment.hub_http_port}/api/audit/export", params=params,
            headers={"Authorization": f"Bearer {token}"}) as response:
        body = await response.json()
        if response.status != 200:
            raise SystemExit(f"export refused: {body.get('error')}: {body.get('detail')}")
        return body


def print_verification(bundle_path: Path, root_path: Path, quorum: int | None = None) -> int:
    """`somex audit verify`: print what holds and every finding; 0 only if nothing failed."""
    import json

    from crypto.audit_bundle import verify_bundle
    from crypto.pki import cert_from_pem

    try:
        bundle = json.loads(bundle_path.read_text())
    except (OSError, ValueError) as exc:
        print(f"cannot read the bundle {bundle_path}: {exc}")
        return 2
    report = verify_bundle(bundle, cert_from_pem(root_path.read_bytes()), quorum=quorum)
    print(f"log {report.origin!r}: {report.entries} entries, {report.checkpoints} signed checkpoints, "
          f"tree size {report.tree_size}")
    for size in sorted(report.cosigners):
        print(f"  checkpoint {size}: cosigned by {', '.join(report.cosigners[size]) or 'no witness yet'}")
    print(f"witness quorum: {report.quorum_required} of {len(report.witnesses)} required "
          f"({', '.join(report.witnesses)}, from directory serial {report.directory_serial}); " + (
              f"met by {report.quorum_met} on checkpoint {report.witnessed_size}" if report.witnessed_size is not None
              else "not met"))
    if report.quorum_required == 0:
        print("WARNING: quorum 0 trusts the hub's signature alone: a rewritten or split log would pass")
    for index, leaf in list(report.proven.items())[:SHOWN_ENTRIES]:
        print(f"  #{index} {describe_leaf(leaf)}")
    if len(report.proven) > SHOWN_ENTRIES:
        print(f"  ... {len(report.proven) - SHOWN_ENTRIES} more proven entries (export a selection to list them)")
    if report.ok:
        print(f"VERIFIED: every checkpoint is signed by the hub and extends the previous one; every entry is proven "
              f"in checkpoint {report.witnessed_size}, which {report.quorum_met} witnesses cosigned")
        return 0
    for finding in report.findings:
        print(f"FAILED {finding}")
    if report.first_bad_index is not None:
        print(f"first bad entry: {report.first_bad_index}")
    return 1


SHOWN_ENTRIES = 200


def describe_leaf(leaf: dict[str, Any]) -> str:
    """One line per audit entry: verdict, type, sender -> recipients, thread, handling code."""
    handling = leaf.get("handling") if isinstance(leaf.get("handling"), dict) else {}
    code = handling.get("code") or "-"
    condition = f" ({handling['condition']})" if handling.get("condition") else ""
    recipients = ",".join(str(r) for r in leaf.get("recipients") or []) or "-"
    reason = f" {leaf['reason']}" if leaf.get("reason") else ""
    line = (f"{leaf.get('verdict')}{reason} {leaf.get('type') or '?'} {leaf.get('sender') or '?'} -> {recipients} "
            f"thread={leaf.get('thread') or '-'} handling={code}{condition}")
    # A leaf is the sender's text: no control character reaches the auditor's terminal.
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in line)
