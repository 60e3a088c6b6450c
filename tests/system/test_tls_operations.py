"""Issue 15, operated from the command line against real processes: the CLI clients talk HTTPS to a
hub and a node serving `--tls-cert` (checked against the federation's CA, one line when it does not
verify), and a key revoked at the root loses its TLS certificate at the broker once the hub
operator publishes the revocation list with the CRL (`somex federation publish ... --crl`)."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

import aio_pika
import aiohttp
import pytest
from aiormq.exceptions import AMQPConnectionError

from nodes.plumbing.amqp import amqps_url, client_tls_context, open_connection
from nodes.plumbing.config import utcnow
from nodes.plumbing.federation import (
    REVOCATIONS_FILE,
    TLS_CERT_FILE,
    TLS_CRL_FILE,
    TLS_KEY_FILE,
    load_federation,
)
from nodes.app.root_operator import tls_ca, write_tls_pair
from nodes.app.ceremony import init_federation
from tests.integration.federation import eventually
from tests.system.cli_federation import CliFederation

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]


async def _https_linked(session: aiohttp.ClientSession, url: str, context: ssl.SSLContext) -> bool:
    try:
        async with session.get(f"{url}/api/health", ssl=context) as response:
            return response.status == 200 and (await response.json()).get("broker_connected") is True
    except aiohttp.ClientError:
        return False


async def _connect(fed_dir: Path, node_id: str, port: int) -> aio_pika.abc.AbstractConnection:
    home = fed_dir / "nodes" / node_id
    context = client_tls_context(fed_dir / "root" / "root.crt", home / TLS_CERT_FILE, home / TLS_KEY_FILE)
    return await open_connection(amqps_url("localhost", port, "somex"), ssl_context=context, timeout=10)


async def test_cli_clients_over_https_and_a_published_revocation_closes_the_broker_to_the_key(tmp_path: Path) -> None:
    fed = CliFederation(tmp_path)
    fed_dir = fed.state / "federation"
    try:
        fed.must("federation", "init", "--countries", "MEX,IDN,ITA")
        fed.must("broker", "up")
        files = {}
        for name in ("HUB", "MEX"):  # HTTPS certificates for 127.0.0.1, from the federation's TLS CA
            home = tmp_path / "https" / name
            home.mkdir(parents=True)
            write_tls_pair(home, *tls_ca(fed_dir), f"{name.lower()}-api", utcnow(), server_names=["127.0.0.1"])
            files[name] = ["--tls-cert", str(home / TLS_CERT_FILE), "--tls-key", str(home / TLS_KEY_FILE)]
        fed.spawn("HUB", "hub", "run", *files["HUB"])
        fed.spawn("MEX", "node", "run", "--country", "MEX", *files["MEX"])
        fed.start_node("IDN")
        trusting = ssl.create_default_context(cafile=str(fed_dir / "root" / "root.crt"))
        async with aiohttp.ClientSession() as session:
            for name in ("HUB", "MEX"):
                url = f"https://127.0.0.1:{fed.http_port(name)}"
                await eventually(lambda url=url: _https_linked(session, url, trusting), timeout=120,
                                 what=f"{name} serving HTTPS and linked to the broker")
            await fed.wait_linked(session, "IDN")

        # -- every CLI client over HTTPS, the server checked against the federation root ------------
        sent = json.loads(fed.must("send", "--from", "MEX", "--to", "IDN", "--text", "over https").stdout)
        await eventually(lambda: sent["id"] in fed.stored_notes("IDN"), timeout=60, what="the note at IDN")
        fed.must("audit", "export", "--out", str(tmp_path / "bundle.json"))
        assert json.loads((tmp_path / "bundle.json").read_text())["entries"]
        assert json.loads(fed.must("mla", "--node", "MEX", "list").stdout) is not None
        (tmp_path / "empty.ndjson").write_text("")
        fed.must("feed", "push", str(tmp_path / "empty.ndjson"), "--country", "MEX")
        init_federation(tmp_path / "other", "somex", ["MEX"], utcnow())  # another CA: refused, one line
        wrong = fed.somex("send", "--from", "MEX", "--to", "IDN", "--text", "x",
                          "--cacert", str(tmp_path / "other" / "root" / "root.crt"))
        assert wrong.returncode == 2, wrong.stderr[-2000:]
        assert len(wrong.stderr.strip().splitlines()) == 1 and "does not vouch for" in wrong.stderr

        # -- a revocation: the root revokes ITA's key, the hub operator publishes list and CRL ------
        port = fed.deployment["amqp_port"]
        open_before = await _connect(fed_dir, "ITA", port)
        closed = asyncio.Event()
        open_before.close_callbacks.add(lambda *_: closed.set())
        kid = load_federation(fed_dir, utcnow()).credentials("ITA").signing_key.kid
        revoked = fed.must("federation", "revoke", kid, "--root", str(fed_dir)).stdout
        assert "TLS certificate(s)" in revoked
        published = fed.must("federation", "publish", str(fed_dir / REVOCATIONS_FILE),
                             "--crl", str(fed_dir / TLS_CRL_FILE)).stdout  # to the HTTPS hub
        assert "installed in the broker" in published and "closed: ITA" in published
        await asyncio.wait_for(closed.wait(), 30)
        with pytest.raises((AMQPConnectionError, ConnectionError, ssl.SSLError)):
            await (await _connect(fed_dir, "ITA", port)).close()
        await (await _connect(fed_dir, "IDN", port)).close()  # the others still connect
        again = fed.somex("federation", "publish", str(fed_dir / TLS_CRL_FILE))  # the same CRL again: stale
        assert again.returncode == 2 and "stale_crl" in again.stderr
    finally:
        fed.close()


async def test_broker_up_cluster_serves_amqps_with_certificate_login_on_every_node(tmp_path: Path) -> None:
    fed = CliFederation(tmp_path)
    fed_dir = fed.state / "federation"
    try:
        fed.must("federation", "init", "--countries", "MEX,IDN")
        fed.must("broker", "up", "--cluster", "3")
        deployment = fed.deployment
        assert deployment["tls"] is True
        ports = [deployment["amqp_port"], *deployment["more_amqp_ports"]]
        assert len(ports) == 3
        for port in ports:  # each node: AMQPS, the certificate's CN is the user
            connection = await _connect(fed_dir, "MEX", port)
            await connection.close()
            plain = ssl.create_default_context(cafile=str(fed_dir / "root" / "root.crt"))  # no client certificate
            with pytest.raises((AMQPConnectionError, ConnectionError, ssl.SSLError)):
                await (await open_connection(amqps_url("localhost", port, "somex"), ssl_context=plain,
                                             timeout=10)).close()
        from nodes.app.cluster import PrivateCluster

        cluster = PrivateCluster.from_state_dir(fed.state / "broker")
        for node in cluster.nodes:
            conf = (node.state_dir / "rabbitmq.conf").read_text()
            assert "listeners.tcp = none" in conf and "auth_mechanisms.1 = EXTERNAL" in conf
        users = {u["name"]: u for u in cluster.api("GET", "/api/users") if u["name"] != "somex-admin"}
        assert set(users) == {"HUB", "MEX", "IDN"} and all(u["password_hash"] == "" for u in users.values())
    finally:
        fed.close()
