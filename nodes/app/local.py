"""Operator actions on a federation that runs on this machine (broker up/down, sending a note)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import aiohttp
import structlog

from nodes.plumbing.api_client import api_base, api_session, default_cacert
from nodes.plumbing.config import utcnow
from nodes.plumbing.deployment import Deployment, broker_spec
from broker_config import BrokerTls
from nodes.plumbing.federation import BROKER_DIR, DIRECTORY_FILE, TLS_CERT_FILE, TLS_CRL_FILE, TLS_KEY_FILE, Federation, load_federation
from nodes.app.cluster import PrivateCluster, is_cluster
from nodes.plumbing.private_files import private_dir
from nodes.plumbing.rabbit import LOOPBACK, BrokerError, PrivateBroker, free_port, install_broker_tls

log = structlog.get_logger("somex.local")


class BrokerRefused(BrokerError):
    """`somex broker up` will not start a broker here: it would not be the one this state dir recorded."""


def broker_up(state_dir: Path, amqp_port: int = 0, cluster: int = 1, *, fresh: bool = False,
              amqp_host: str = LOOPBACK) -> Deployment:
    """Start the federation's broker and load its users, queues and permissions; the same broker every time.

    After a crash or a stop, the broker recorded in STATE_DIR/broker (node name, data directory,
    ports) is started again, so its durable queues and what they hold come back. A different broker
    is never started over an existing one's data unless `fresh` says to discard it. The ports in
    deployment.json (AMQP, the hub's and the nodes' HTTP) are chosen once and kept.
    """
    if not (state_dir / "federation").is_dir():
        raise BrokerRefused(f"no federation in {state_dir}: run 'somex federation init --countries MEX,IDN "
                            f"--state-dir {state_dir}' first (or give the right --state-dir)")
    federation = load_federation(state_dir / "federation", utcnow())
    private_dir(state_dir)
    broker_dir = state_dir / "broker"
    previous = Deployment.load(state_dir) if (state_dir / "deployment.json").exists() else None
    recorded = _recorded_broker(broker_dir)
    if recorded is not None and recorded.status().get("running"):
        if fresh:
            raise BrokerRefused(f"the broker in {broker_dir} is running: stop it first ('somex broker down') "
                                "before discarding it with --fresh")
        _check_same_broker(broker_dir, recorded, amqp_port, cluster, previous)
        log.info("broker already running", state_dir=str(broker_dir))
        broker: PrivateBroker | PrivateCluster = recorded
    else:
        if fresh:
            _discard(broker_dir)
            recorded = None
        else:
            _check_same_broker(broker_dir, recorded, amqp_port, cluster, previous)
            if isinstance(recorded, PrivateCluster):
                raise BrokerRefused(f"the cluster recorded in {broker_dir} is stopped; 'broker up' does not re-form a "
                                    "stopped cluster (joining would reset its nodes): add --fresh to discard it")
        PrivateBroker.ensure_installed()
        broker = recorded or _new_broker(broker_dir, amqp_port or (previous.amqp_port if previous else 0), cluster,
                                         federation, amqp_host)
        if recorded is not None:
            log.warning("restarting the broker recorded in the state dir (same node, data and ports)",
                        nodename=_nodename(recorded), amqp_port=recorded.amqp_port, state_dir=str(broker_dir))
        broker.start()
    deployment = _fixed_deployment(state_dir, previous, broker, federation.directory.node_ids())
    broker.apply(broker_spec(federation, deployment.vhost, tls=deployment.tls))
    if deployment != previous:
        deployment.save()
    log.info("broker up", amqp_ports=[deployment.amqp_port, *deployment.more_amqp_ports], vhost=deployment.vhost)
    return deployment


def _new_broker(broker_dir: Path, amqp_port: int, cluster: int, federation: Federation,
                amqp_host: str = LOOPBACK) -> PrivateBroker | PrivateCluster:
    if cluster > 1:
        if amqp_host != LOOPBACK:
            raise BrokerRefused("a local cluster listens on loopback only (--amqp-host is for a single broker)")
        amqps = (federation.path / BROKER_DIR / TLS_CERT_FILE).is_file()
        log.info("starting a new RabbitMQ cluster", nodes=cluster, amqps=amqps)
        return PrivateCluster.create(broker_dir, cluster, amqp_port, tls_for=(
            (lambda node_dir: broker_tls_from_federation(node_dir, federation.path)) if amqps else None))
    tls = broker_tls_from_federation(broker_dir, federation.path)
    log.info("starting a new broker", state_dir=str(broker_dir), amqps=tls is not None)
    return PrivateBroker(broker_dir, amqp_port=amqp_port or free_port(), mgmt_port=free_port(),
                         dist_port=free_port(), nodename=f"somex-{free_port()}@localhost", tls=tls,
                         amqp_host=amqp_host)


def broker_tls_from_federation(broker_dir: Path, federation_dir: Path) -> BrokerTls | None:
    """The broker operator's TLS material from a (one-machine) federation tree, installed in the
    broker's state; None for a federation made before TLS (its broker stays plain AMQP)."""
    source = federation_dir / BROKER_DIR
    if not (source / TLS_CERT_FILE).is_file():
        log.warning("this federation has no broker TLS certificate: plain AMQP with passwords (development only); "
                    "re-create it with 'somex federation init' for AMQPS")
        return None
    private_dir(broker_dir)
    return install_broker_tls(broker_dir, ca_pem=(federation_dir / "root" / "root.crt").read_bytes(),
                              cert_chain_pem=(source / TLS_CERT_FILE).read_bytes(),
                              key_pem=(source / TLS_KEY_FILE).read_bytes(),
                              crl_pem=(federation_dir / TLS_CRL_FILE).read_bytes())


def _check_same_broker(broker_dir: Path, recorded: PrivateBroker | PrivateCluster | None, amqp_port: int,
                       cluster: int, previous: Deployment | None) -> None:
    """BrokerRefused unless starting `recorded` (or a new broker where there is none) is what was asked."""
    again = "run 'somex broker up' without options to start the recorded broker again, or add --fresh to " \
            "discard its data (messages still queued in it are lost)"
    if recorded is None:
        if _holds_broker_data(broker_dir):
            raise BrokerRefused(f"{broker_dir} holds a broker's data but no record of it (broker.json): "
                                f"refusing to start a different broker over it; add --fresh to discard it")
        return
    if isinstance(recorded, PrivateCluster) != (cluster > 1) or (
            isinstance(recorded, PrivateCluster) and len(recorded.nodes) != cluster):
        size = len(recorded.nodes) if isinstance(recorded, PrivateCluster) else 1
        raise BrokerRefused(f"{broker_dir} holds a {size}-node broker, not the {cluster}-node one asked for; {again}")
    if amqp_port and amqp_port != recorded.amqp_port:
        raise BrokerRefused(f"the broker recorded in {broker_dir} listens on AMQP port {recorded.amqp_port}, "
                            f"not {amqp_port}; ports are fixed once; {again}")
    if previous is not None and previous.amqp_port != recorded.amqp_port:
        raise BrokerRefused(f"deployment.json names AMQP port {previous.amqp_port} but the broker recorded in "
                            f"{broker_dir} listens on {recorded.amqp_port}: they are not the same broker; {again}")
    if isinstance(recorded, PrivateBroker):
        strangers = _data_nodenames(broker_dir) - {recorded.nodename}
        if strangers:
            raise BrokerRefused(f"{broker_dir} holds the data of broker node(s) {', '.join(sorted(strangers))}, "
                                f"not of the recorded {recorded.nodename}: refusing to start over it; add --fresh "
                                "to discard it")


def _data_nodenames(broker_dir: Path) -> set[str]:
    """The RabbitMQ node names whose data (RABBITMQ_MNESIA_BASE/<node>/) is in `broker_dir`."""
    mnesia = broker_dir / "mnesia"
    if not mnesia.is_dir():
        return set()
    return {p.name for p in mnesia.iterdir() if p.is_dir() and "@" in p.name and not p.name.endswith("-plugins-expand")}


def _holds_broker_data(broker_dir: Path) -> bool:
    return bool(_data_nodenames(broker_dir)) or any(broker_dir.glob("n*/mnesia/*@*"))


def _discard(broker_dir: Path) -> None:
    if broker_dir.exists():
        log.warning("discarding the broker's data (--fresh): messages still queued in it are lost",
                    state_dir=str(broker_dir))
        shutil.rmtree(broker_dir)


def _nodename(broker: PrivateBroker | PrivateCluster) -> str:
    return broker.nodename if isinstance(broker, PrivateBroker) else ",".join(n.nodename for n in broker.nodes)


def _fixed_deployment(state_dir: Path, previous: Deployment | None, broker: PrivateBroker | PrivateCluster,
                      countries: list[str]) -> Deployment:
    """The deployment with the broker's ports; every HTTP port chosen once, a new one only for a new country."""
    ports = broker.amqp_ports if isinstance(broker, PrivateCluster) else [broker.amqp_port]
    http = dict(previous.node_http_ports) if previous else {}
    for country in countries:
        if country not in http:
            http[country] = free_port()
    return Deployment(state_dir, ports[0], vhost=previous.vhost if previous else "somex",
                      hub_http_port=(previous.hub_http_port if previous and previous.hub_http_port else free_port()),
                      node_http_ports=http, more_amqp_ports=ports[1:],
                      tls=broker.tls is not None,
                      amqp_host=broker.amqp_host if isinstance(broker, PrivateBroker) else LOOPBACK)


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
        from nodes.plumbing.cli_support import node_endpoint

        return cls(session, *node_endpoint(deployment, country, role))

    async def health(self) -> dict[str, Any]:
        async with self._session.get(f"{self.base_url}/health") as r:
            return await r.json()

    async def send(self, payload: dict[str, Any]) -> dict[str, Any]:
        async with self._session.post(f"{self.base_url}/messages", json=payload, headers=self._headers) as r:
            body = await r.json(content_type=None)
            if r.status >= 300 and isinstance(body, dict):
                body["_status"] = r.status
            return body

    async def messages(self, **query: str) -> list[dict[str, Any]]:
        async with self._session.get(f"{self.base_url}/messages", params=query, headers=self._headers) as r:
            r.raise_for_status()
            return (await r.json())["messages"]

    async def message(self, message_id: str) -> dict[str, Any]:
        async with self._session.get(f"{self.base_url}/messages/{message_id}", headers=self._headers) as r:
            return await r.json()


async def send_note(state_dir: Path, sender: str, to: list[str], text: str, thread: str | None, *,
                    cacert: Path | None = None) -> dict[str, Any]:
    from nodes.plumbing.cli_support import deployment_of

    deployment = deployment_of(state_dir)
    async with api_session(cacert or default_cacert(deployment.federation_dir)) as session:
        client = NodeClient.for_country(session, deployment, sender)
        payload: dict[str, Any] = {"type": "note", "to": to, "body": {"text": text}}
        if thread:
            payload["thread"] = thread
        return await client.send(payload)


async def export_audit(state_dir: Path, *, cacert: Path | None = None, **query: str | None) -> dict[str, Any]:
    from nodes.plumbing.cli_support import CliError, api_error_line, deployment_of, hub_endpoint

    deployment = deployment_of(state_dir)
    base, token = hub_endpoint(deployment, "auditor")
    params = {k: v for k, v in query.items() if v}
    async with api_session(cacert or default_cacert(deployment.federation_dir)) as session, session.get(
            f"{base}/audit/export", params=params, headers={"Authorization": f"Bearer {token}"}) as response:
        body = await response.json(content_type=None)
        if response.status != 200:
            raise CliError(f"audit export {api_error_line(response.status, body)}")
        return body


def print_verification(bundle_path: Path, root_path: Path, quorum: int | None = None) -> int:
    """`somex audit verify`: print what holds and every finding; 0 only if nothing failed."""
    import json

    from crypto.audit_bundle import verify_bundle
    from crypto.pki import cert_from_pem

    from nodes.plumbing.cli_support import CliError

    try:
        bundle = json.loads(bundle_path.read_text())
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the bundle {bundle_path} ({getattr(exc, 'strerror', None) or exc}): give a "
                       "file written by 'somex audit export'") from None
    try:
        root = cert_from_pem(root_path.read_bytes())
    except OSError as exc:
        raise CliError(f"cannot read the root certificate {root_path} ({exc.strerror}): give the federation's "
                       "root.crt, e.g. --root .somex/federation/root/root.crt") from None
    except ValueError:
        raise CliError(f"{root_path} is not a PEM certificate: give the federation's root.crt") from None
    report = verify_bundle(bundle, root, quorum=quorum)
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


class PublicationRefused(Exception):
    """The hub refused a federation document: `reason` is its code (docs/reason-codes.md)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


async def publish_federation_file(state_dir: Path, file: Path, *, hub_url: str | None = None,
                                  token: str | None = None, crl: Path | None = None,
                                  cacert: Path | None = None) -> dict[str, Any]:
    """The hub operator's publication of a root-signed directory or revocation list: hand it to the
    running hub (which verifies, applies, audits and broadcasts it), then, for a directory, take the
    broker permissions of any user it no longer lists (a removed member); a directory's new members
    get their broker user and inbox before the hub has it. The token is the hub's `operator` token
    (default: this machine's operator-tokens.json of HUB).

    With `crl` (the root's tls-revocations.crl.pem), or when `file` is that CRL itself, the TLS
    revocation list is installed in the broker first (nodes.app.broker_revocation), and the
    open connections of members with a key the revocation list revokes are closed after."""
    from crypto.directory import check_publication, load_directory, load_revocations, publication_kind
    from nodes.app.broker_revocation import close_member_connections, install_revocation_list, members_of_keys

    raw = file.read_bytes()
    deployment = Deployment.load(state_dir)
    federation = load_federation(deployment.federation_dir, utcnow())
    crl_raw = raw if raw.lstrip().startswith(b"-----BEGIN X509 CRL") else (crl.read_bytes() if crl else None)
    crl_number = None
    if crl_raw is not None:
        broker = _recorded_broker(state_dir / "broker")
        if broker is None:
            raise BrokerError(f"no broker recorded in {state_dir / 'broker'}: install the TLS revocation list on the "
                              "broker's host (--state-dir of the broker)")
        crl_number = install_revocation_list(broker, crl_raw, federation.root_cert)
        if crl_raw is raw:  # the CRL alone: the revocation list in force here names the members to close
            users = members_of_keys(federation.directory, federation.revocations.revoked)
            close_member_connections(broker, users, "TLS certificate revoked: reconnect with a valid one")
            return {"kind": "tls-revocations", "serial": crl_number, "recipients": ["broker"], "message_id": "-",
                    "crl_number": crl_number, "closed_connections_of": users}
    url = hub_url or api_base(state_dir, "HUB", deployment.hub_http_port)
    token = token or federation.credentials("HUB").tokens["operator"]
    broker = _recorded_broker(state_dir / "broker")
    if broker is not None and publication_kind(raw) == "directory":
        # A new member's broker user and inbox exist before the hub sends it anything. Only for a
        # directory newer than the hub's (checked here against the root, as the hub will): an older
        # one could give a removed member its permissions back.
        in_use = deployment.federation_dir / DIRECTORY_FILE
        if in_use.is_file() and in_use.read_bytes() == raw:  # one machine: the root wrote it here already
            newer = federation.directory
        else:
            newer = check_publication(raw, federation.root_cert, federation.directory, federation.revocations,
                                      utcnow())
        broker.apply(broker_spec(federation.with_document(newer), deployment.vhost, tls=deployment.tls))
    async with api_session(cacert or default_cacert(deployment.federation_dir)) as session:
        async with session.post(f"{url}/federation/publish", data=raw,
                                headers={"Authorization": f"Bearer {token}"}) as response:
            answer = await response.json()
    if response.status != 200:
        raise PublicationRefused(answer.get("error", str(response.status)), answer.get("detail", ""))
    if crl_number is not None:
        answer["crl_number"] = crl_number
    if publication_kind(raw) == "revocations" and crl_number is not None:
        # Every member with a revoked key, not only the newly revoked: the files here may already be
        # the new ones (one machine). A member that rotated reconnects at once with its new certificate.
        users = members_of_keys(federation.directory, load_revocations(raw, federation.root_cert).revoked)
        broker = _recorded_broker(state_dir / "broker")
        if users and broker is not None:
            close_member_connections(broker, users, "TLS certificate revoked: reconnect with a valid one")
        answer["closed_connections_of"] = users
    if publication_kind(raw) == "directory":
        directory = load_directory(raw, federation.root_cert, None)
        if broker is not None:
            members = [e.broker_user for e in directory.nodes.values()]
            answer["withdrawn_broker_users"] = withdraw_absent_members(broker, deployment.vhost, members)
    return answer


def withdraw_absent_members(broker: PrivateBroker | PrivateCluster, vhost: str, members: list[str]) -> list[str]:
    if isinstance(broker, PrivateCluster):
        return broker.any_live().withdraw_absent_members(vhost, members)
    return broker.withdraw_absent_members(vhost, members)
