"""The deployed broker: AMQPS only, every client authenticated by its TLS certificate (EXTERNAL,
broker user = certificate CN = node id). Each refusal the issue lists is the broker's own.

One TLS broker for the module, made from one federation (its TLS CA, its root); the rest of the
integration suite uses the session's plain development broker (docs/pki.md says why).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aio_pika
import pytest
from aiormq.exceptions import AMQPConnectionError, ChannelAccessRefused, ChannelPreconditionFailed


import broker_config
from crypto.errors import CertificateError
from crypto.pki import cert_from_pem
from crypto.tls_request import crl_number, load_crl
from nodes.plumbing.amqp import amqps_url, client_tls_context, open_connection
from nodes.app.broker_revocation import close_member_connections, install_revocation_list, members_of_keys
from nodes.plumbing.config import BrokerAddress, utcnow
from nodes.plumbing.deployment import broker_spec
from nodes.plumbing.federation import TLS_CERT_FILE, TLS_CRL_FILE, TLS_KEY_FILE, Federation, load_federation
from nodes.app.root_operator import revoke, revoke_tls_certificate, tls_ca, write_tls_pair
from nodes.app.ceremony import init_federation
from nodes.app.local import broker_tls_from_federation
from nodes.plumbing.rabbit import PrivateBroker, free_port
from tests.integration.federation import RunningFederation, eventually

pytestmark = pytest.mark.integration

TIMEOUT = 10.0
VHOST = "somex"


@dataclass
class TlsBroker:
    broker: PrivateBroker
    federation: Federation
    path: Path

    def address(self, host: str = "localhost") -> BrokerAddress:
        return BrokerAddress(host, self.broker.amqp_port, VHOST, tls=True)

    def node_files(self, node_id: str) -> tuple[Path, Path]:
        home = self.federation.path / "nodes" / node_id
        return home / TLS_CERT_FILE, home / TLS_KEY_FILE

    async def connect(self, cert_file: Path | None, key_file: Path | None, *, ca_file: Path | None = None,
                      user: str = "") -> aio_pika.abc.AbstractConnection:
        context = ssl.create_default_context(cafile=str(ca_file or self.federation.root_cert_file))
        if cert_file is not None:
            context.load_cert_chain(str(cert_file), str(key_file))
        url = amqps_url("localhost", self.broker.amqp_port, VHOST)
        if user:  # a user name in the URL: EXTERNAL ignores it, the certificate decides
            url = url.replace("amqps://", f"amqps://{user}@")
        return await open_connection(url, ssl_context=context, timeout=TIMEOUT)

    async def connect_as(self, node_id: str, **kwargs) -> aio_pika.abc.AbstractConnection:
        return await self.connect(*self.node_files(node_id), **kwargs)


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    PrivateBroker.ensure_installed()
    path = tmp_path_factory.mktemp("tls-federation")
    init_federation(path / "federation", "somex-tls", ["MEX", "IDN", "ITA", "ESP"], utcnow())
    federation = load_federation(path / "federation", utcnow())
    broker_dir = path / "broker"
    broker = PrivateBroker(broker_dir, amqp_port=free_port(), mgmt_port=free_port(), dist_port=free_port(),
                           nodename=f"somex-tls-{free_port()}@localhost",
                           tls=broker_tls_from_federation(broker_dir, federation.path))
    broker.start(stop_with_caller=True)
    try:
        broker.apply(broker_spec(federation, VHOST, tls=True))
        yield TlsBroker(broker, federation, path)
    finally:
        broker.stop()


async def _publish(connection: aio_pika.abc.AbstractConnection, routing_key: str, user_id: str) -> None:
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    exchange = await channel.get_exchange(broker_config.HUB_IN_EXCHANGE, ensure=False)
    await exchange.publish(aio_pika.Message(b"{}", user_id=user_id), routing_key=routing_key, mandatory=True,
                           timeout=TIMEOUT)


async def _refused(tls_broker: TlsBroker, cert_file: Path | None, key_file: Path | None, **kwargs) -> None:
    with pytest.raises((AMQPConnectionError, ConnectionError, ssl.SSLError)):
        connection = await tls_broker.connect(cert_file, key_file, **kwargs)
        await connection.close()


def test_the_broker_has_no_plain_listener_and_no_password_login(tls_broker: TlsBroker) -> None:
    conf = (tls_broker.broker.state_dir / "rabbitmq.conf").read_text()
    assert "listeners.tcp = none" in conf and "auth_mechanisms.1 = EXTERNAL" in conf
    assert "auth_mechanisms.2" not in conf
    definitions = tls_broker.broker.api("GET", "/api/definitions")
    node_users = {u["name"]: u for u in definitions["users"] if u["name"] != "somex-admin"}
    assert set(node_users) == {"HUB", "MEX", "IDN", "ITA", "ESP"}
    assert all(u["password_hash"] == "" for u in node_users.values())  # no password opens them
    with socket.create_connection(("127.0.0.1", tls_broker.broker.amqp_port), timeout=TIMEOUT) as plain:
        plain.sendall(b"AMQP\x00\x00\x09\x01")  # a plain AMQP client's protocol header
        plain.settimeout(TIMEOUT)
        try:
            answer = plain.recv(64)
        except ConnectionResetError:
            answer = b""
    assert answer == b"" or answer[0] == 0x15  # closed, or a TLS alert record: never AMQP's connection.start


async def test_a_node_logs_in_with_its_certificate_and_publishes_as_itself(tls_broker: TlsBroker) -> None:
    connection = await tls_broker.connect_as("MEX")
    async with connection:
        await _publish(connection, "MEX", "MEX")


async def test_a_client_without_a_certificate_is_refused(tls_broker: TlsBroker) -> None:
    await _refused(tls_broker, None, None)


async def test_another_countrys_certificate_cannot_act_as_this_country(tls_broker: TlsBroker) -> None:
    # IDN's certificate with MEX's user name: the broker logs it in as IDN (the CN), so IDN's own
    # topic permission and the user_id check refuse anything sent as MEX.
    connection = await tls_broker.connect_as("IDN", user="MEX")
    async with connection:
        users = await eventually(lambda: {c["user"] for c in tls_broker.broker.api(
            "GET", "/api/connections?columns=user")}, what="the connection in the management API")
        assert users == {"IDN"}
        with pytest.raises(ChannelAccessRefused):
            await _publish(connection, "MEX", "IDN")
    connection = await tls_broker.connect_as("IDN", user="MEX")
    async with connection:
        with pytest.raises(ChannelPreconditionFailed):
            await _publish(connection, "IDN", "MEX")


async def test_an_expired_certificate_is_refused(tls_broker: TlsBroker, tmp_path: Path) -> None:
    ca_key, ca_cert = tls_ca(tls_broker.federation.path)
    write_tls_pair(tmp_path, ca_key, ca_cert, "MEX", utcnow() - timedelta(days=3), days=1)
    await _refused(tls_broker, tmp_path / TLS_CERT_FILE, tmp_path / TLS_KEY_FILE)


async def test_a_certificate_from_another_root_is_refused(tls_broker: TlsBroker, tmp_path: Path) -> None:
    init_federation(tmp_path / "other", "somex-tls", ["MEX"], utcnow())  # same names, another root
    other = tmp_path / "other" / "nodes" / "MEX"
    await _refused(tls_broker, other / TLS_CERT_FILE, other / TLS_KEY_FILE)


async def test_a_client_refuses_a_broker_certificate_from_another_root(tls_broker: TlsBroker, tmp_path: Path) -> None:
    init_federation(tmp_path / "other", "somex-tls", ["MEX"], utcnow())
    with pytest.raises((AMQPConnectionError, ssl.SSLCertVerificationError)):
        await tls_broker.connect_as("MEX", ca_file=tmp_path / "other" / "root" / "root.crt")


async def test_a_client_checks_the_brokers_name(tls_broker: TlsBroker) -> None:
    cert_file, key_file = tls_broker.node_files("MEX")
    context = client_tls_context(tls_broker.federation.root_cert_file, cert_file, key_file)
    url = amqps_url("127.0.0.2", tls_broker.broker.amqp_port, VHOST)  # reachable, but not a name in its certificate
    with pytest.raises((AMQPConnectionError, ssl.SSLCertVerificationError)):
        await open_connection(url, ssl_context=context, timeout=TIMEOUT)


async def test_a_revoked_certificate_is_refused_without_a_restart(tls_broker: TlsBroker) -> None:
    federation_dir = tls_broker.federation.path
    ita_cert, ita_key = tls_broker.node_files("ITA")
    connected_before = await tls_broker.connect(ita_cert, ita_key)  # accepted before
    closed = asyncio.Event()
    connected_before.close_callbacks.add(lambda *_: closed.set())
    crl = revoke_tls_certificate(federation_dir, cert_from_pem(ita_cert.read_bytes()), utcnow())
    tls_broker.broker.install_crl(crl)
    await _refused(tls_broker, ita_cert, ita_key)
    await (await tls_broker.connect_as("IDN")).close()  # the others still are
    # TLS is checked when a connection opens: the revoking operator closes the open ones.
    await eventually(lambda: tls_broker.broker.close_connections("ITA", "certificate revoked"),
                     what="ITA's open connection listed and closed")
    await asyncio.wait_for(closed.wait(), TIMEOUT)


async def test_revoking_a_members_key_refuses_its_tls_certificate_once_the_crl_is_installed(
        tls_broker: TlsBroker) -> None:
    """`federation revoke KID` at the root also revokes the TLS certificate admitted with that key; the
    publish step installs the CRL (checked: TLS CA, newer) on the broker and closes the member's open
    connections; the next connection is refused, the others' are not, and no restart is needed."""
    root_dir = tls_broker.federation.path  # the one-machine layout: the root's directory is the federation's
    esp_cert, esp_key = tls_broker.node_files("ESP")
    kid = tls_broker.federation.credentials("ESP").signing_key.kid
    previous_crl = (root_dir / TLS_CRL_FILE).read_bytes()
    revoked = revoke(root_dir, kid, utcnow())
    open_before = await tls_broker.connect(esp_cert, esp_key)  # opened just before the CRL is installed
    closed = asyncio.Event()
    open_before.close_callbacks.add(lambda *_: closed.set())
    assert [c.serial_number for c in revoked] == [cert_from_pem(esp_cert.read_bytes()).serial_number]
    number = install_revocation_list(tls_broker.broker, (root_dir / TLS_CRL_FILE).read_bytes(),
                                     tls_broker.federation.root_cert)
    users = members_of_keys(tls_broker.federation.directory, {kid})
    assert users == ["ESP"]
    # At once, not "eventually": the management API would list the connection only seconds after it
    # opened, and a connection opened just before the revocation must be closed too.
    close_member_connections(tls_broker.broker, users, "certificate revoked")
    await asyncio.wait_for(closed.wait(), TIMEOUT)
    await _refused(tls_broker, esp_cert, esp_key)
    await (await tls_broker.connect_as("IDN")).close()  # the others still are
    await (await tls_broker.connect_as("MEX")).close()
    with pytest.raises(CertificateError) as stale:  # the list before it would bring ESP back: refused
        install_revocation_list(tls_broker.broker, previous_crl, tls_broker.federation.root_cert)
    assert stale.value.reason == "stale_crl"
    assert number > crl_number(load_crl(previous_crl))
    await _refused(tls_broker, esp_cert, esp_key)


async def test_hub_and_nodes_exchange_a_note_over_amqps(tls_broker: TlsBroker) -> None:
    running = RunningFederation(tls_broker.path, VHOST, tls_broker.broker.amqp_port, tls_broker.federation,
                                tls=True)
    await running.start_hub()
    for country in ("MEX", "IDN"):
        await running.start_node(country)
    try:
        await running.hub.wait_connected()
        for node in running.nodes.values():
            await asyncio.wait_for(node.session.connected.wait(), 30)
        note = running.nodes["MEX"].build("note", ["IDN"], body={"text": "over AMQPS"})
        await running.nodes["MEX"].submit([note])
        await eventually(lambda: running.inbox("IDN", type="note"), what="the note at IDN")
        # the management statistics lag up to a second behind the connections
        await eventually(lambda: len({c["user"] for c in tls_broker.broker.api(
            "GET", "/api/connections?columns=user")}) >= 3, what="the hub's and two nodes' connections listed")
        connections = tls_broker.broker.api("GET", "/api/connections?columns=user,ssl,auth_mechanism")
        assert {c["user"] for c in connections} == {"HUB", "MEX", "IDN"}
        assert all(c["ssl"] and c["auth_mechanism"] == "EXTERNAL" for c in connections)
    finally:
        await running.stop_all()
