"""Federation documents cannot go back in time: an older, genuinely root-signed revocation list or
directory put back in place is refused by the hub and every node (they remember the highest serial
they accepted), and a revocation list past its next_update raises an alarm. No broker is needed:
the checks run when the hub and the node are built, before they connect."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from crypto.directory import RevocationList, sign_revocations
from crypto.errors import DirectoryError
from nodes.hub import api as hub_api
from nodes.hub.relay import Hub
from nodes.national import api as node_api
from nodes.national.node import NationalNode
from nodes.plumbing.config import BrokerAddress, HubConfig, NodeConfig, utcnow
from nodes.plumbing.federation import DIRECTORY_FILE, REVOCATIONS_FILE, load_federation
from nodes.app.root_operator import load_root_key, reissue_directory, reissue_revocations, revoke
from nodes.app.ceremony import init_federation

pytestmark = pytest.mark.integration
NOWHERE = BrokerAddress("127.0.0.1", 1, "unused")  # nothing here connects


def _build(home: Path, what: str) -> Hub | NationalNode:
    federation = load_federation(home / "federation", utcnow())
    if what == "hub":
        return Hub(HubConfig(home / "federation", f"sqlite:///{home / 'audit.db'}", NOWHERE), federation)
    return NationalNode(NodeConfig("MEX", home / "federation", f"sqlite:///{home / 'MEX.db'}", NOWHERE), federation)


def _stop(built: Hub | NationalNode) -> None:
    engine = built.store.engine if isinstance(built, NationalNode) else built.store._engine
    engine.dispose()


def _new_revocations(home: Path) -> None:
    kid = load_federation(home / "federation", utcnow()).credentials("IDN").signing_key.kid
    revoke(home / "federation", kid, utcnow())


def _new_directory(home: Path) -> None:
    reissue_directory(home / "federation", utcnow())


@pytest.mark.parametrize("what", ["hub", "node"])
@pytest.mark.parametrize(("file", "publish", "reason"), [
    (REVOCATIONS_FILE, _new_revocations, "stale_revocations"),
    (DIRECTORY_FILE, _new_directory, "stale_directory"),
], ids=["revocations", "directory"])
def test_an_older_root_signed_document_put_back_is_refused_at_start(
        tmp_path: Path, what: str, file: str, publish: Callable[[Path], None], reason: str) -> None:
    init_federation(tmp_path / "federation", "docs-test", ["MEX", "IDN"], utcnow())
    old = (tmp_path / "federation" / file).read_bytes()
    _stop(_build(tmp_path, what))  # accepts serial 1
    publish(tmp_path)
    _stop(_build(tmp_path, what))  # accepts serial 2 and remembers it
    _stop(_build(tmp_path, what))  # the same document again: a plain restart

    (tmp_path / "federation" / file).write_bytes(old)  # still a valid root signature
    assert load_federation(tmp_path / "federation", utcnow())  # nothing in the file itself is wrong
    with pytest.raises(DirectoryError) as refused:
        _build(tmp_path, what)
    assert refused.value.reason == reason


@pytest.mark.parametrize("what", ["hub", "node"])
def test_a_different_revocation_list_under_a_serial_already_held_is_refused(tmp_path: Path, what: str) -> None:
    init_federation(tmp_path / "federation", "docs-test", ["MEX", "IDN"], utcnow())
    _stop(_build(tmp_path, what))
    held = load_federation(tmp_path / "federation", utcnow()).revocations
    other = RevocationList(held.federation, held.serial, held.issued, held.next_update + timedelta(days=1),
                           held.revoked)
    (tmp_path / "federation" / REVOCATIONS_FILE).write_bytes(
        sign_revocations(other, load_root_key(tmp_path / "federation")))
    with pytest.raises(DirectoryError) as refused:
        _build(tmp_path, what)
    assert refused.value.reason == "serial_reused"


async def test_a_revocation_list_past_its_next_update_raises_an_alarm_at_hub_and_node(tmp_path: Path) -> None:
    init_federation(tmp_path / "federation", "docs-test", ["MEX", "IDN"], utcnow() - timedelta(days=40))
    hub, node = _build(tmp_path, "hub"), _build(tmp_path, "node")
    try:
        federation = load_federation(tmp_path / "federation", utcnow())
        for app, node_id in ((hub_api.make_app(hub), "HUB"), (node_api.make_app(node), "MEX")):
            token = federation.credentials(node_id).tokens["auditor"]
            async with TestClient(TestServer(app)) as client:
                async with client.get("/api/health") as r:  # anyone sees that something is wrong
                    assert r.status == 200
                    public = await r.json()
                    assert public["status"] == "degraded" and public["alarm_count"] == 1, public
                async with client.get("/api/health", headers={"Authorization": f"Bearer {token}"}) as r:
                    assert r.status == 200
                    alarms = (await r.json())["alarms"]
            assert [a["reason"] for a in alarms] == ["revocations_overdue"], alarms
            assert "revocation list" in alarms[0]["detail"]
    finally:
        _stop(hub)
        _stop(node)

    reissue_revocations(tmp_path / "federation", utcnow())  # the root publishes a fresh list
    node = _build(tmp_path, "node")
    token = federation.credentials("MEX").tokens["auditor"]
    try:
        async with TestClient(TestServer(node_api.make_app(node))) as client:
            async with client.get("/api/health", headers={"Authorization": f"Bearer {token}"}) as r:
                assert (await r.json())["alarms"] == []
    finally:
        _stop(node)
