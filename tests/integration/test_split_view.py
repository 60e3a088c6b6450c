"""Witnesses compare what the hub showed them, peer to peer (issue 14 item 2, split views).

A hostile hub keeps one log for IDN and a second one, signed with the same hub key, for MEX. Each
witness on its own sees a consistent, growing log; only comparing their cosigned checkpoints
directly (not through the hub) reveals the split. No broker here: the nodes witness checkpoints
through their real effect (`witness_checkpoint`) and serve them on their real HTTP API.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from structlog.testing import capture_logs

from nodes.hub.api import make_app as hub_app
from nodes.hub.audit import ACCEPTED, AuditEntry, AuditStore
from nodes.hub.relay import Hub
from nodes.national import log_watch
from nodes.national.api import make_app as node_app
from nodes.national.node import NationalNode
from nodes.national.witness import latest_cosigned_note, open_alarms, witness_checkpoint
from nodes.plumbing.config import HubConfig, NodeConfig
from nodes.plumbing.db import make_engine
from nodes.app.ceremony import init_federation
from nodes.plumbing.federation import load_federation
from protocol.checkpoint import format_note, log_origin

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def entry(i: int, tag: str) -> AuditEntry:
    return AuditEntry(verdict=ACCEPTED, digest=f"{i:064x}", received_at="2026-11-22T12:00:00.000000Z",
                      message_id=f"01a20000-0000-7000-8000-{i:012x}", type="note", sender="MEX",
                      recipients=("IDN",), thread=f"case{tag}", marks_seen=True)


class Split:
    """The hub's public log (served on its API) and a second log it signs for one witness only."""

    def __init__(self, tmp_path, federation) -> None:  # noqa: ANN001
        self.tmp, self.federation = tmp_path, federation
        self.hub = Hub(HubConfig(federation.path, f"sqlite:///{tmp_path / 'hub.db'}"), federation)
        origin = log_origin(federation.directory.federation)
        self.forged = AuditStore(make_engine(f"sqlite:///{tmp_path / 'forged.db'}"), origin,
                                 federation.credentials("HUB").signing_key, origin)
        self.nodes = {c: NationalNode(NodeConfig(c, federation.path, f"sqlite:///{tmp_path / f'{c}.db'}"), federation)
                      for c in ("IDN", "MEX")}

    @staticmethod
    def grow(store: AuditStore, to: int, tag: str) -> str:
        store.append([entry(i, tag) for i in range(store.size, to)])
        store.sign_checkpoint("2026-11-22T12:00:00.000000Z")
        return format_note(store.checkpoint(to)).decode()

    def witness(self, country: str, note: str, proof_from: tuple[AuditStore, int] | None = None) -> None:
        """What a node does with a `hub.checkpoint` message, with a consistency proof from its last size."""
        node = self.nodes[country]
        proofs = []
        if proof_from is not None:
            store, last = proof_from
            size = int(note.split("\n")[1])
            proofs = [{"from": last, "hashes": [base64.b64encode(h).decode() for h in store.consistency_proof(last, size)]}]
        with node.store.engine.begin() as conn:
            witness_checkpoint(node, conn, SimpleNamespace(id="01a20000-0000-7000-8000-000000000000"),
                               {"note": note, "proofs": proofs})

    async def compare(self, country: str, peer: str) -> list[log_watch.PeerResult]:
        """One round of `country`'s log watch against `peer`, over the real HTTP APIs."""
        servers = {"HUB": TestServer(hub_app(self.hub)), peer: TestServer(node_app(self.nodes[peer]))}
        for server in servers.values():
            await server.start_server()
        try:
            node = self.nodes[country]
            node.config = NodeConfig(country, node.config.federation_dir, node.config.db_url,
                                     hub_api_url=str(servers["HUB"].make_url("")),
                                     witness_peers={peer: str(servers[peer].make_url(""))},
                                     evidence_dir=self.tmp / f"evidence-{country}")
            async with aiohttp.ClientSession() as http:
                return await log_watch.check_peers(node, http)
        finally:
            for server in servers.values():
                await server.close()

    def close(self) -> None:
        for node in self.nodes.values():
            node.store.engine.dispose()


@pytest.fixture(scope="module")
def federation(tmp_path_factory):  # noqa: ANN001, ANN201
    path = tmp_path_factory.mktemp("fed") / "federation"
    init_federation(path, "split-test", ["MEX", "IDN"], NOW)
    return load_federation(path, NOW)


@pytest.fixture
def split(tmp_path, federation) -> Split:  # noqa: ANN001
    built = Split(tmp_path, federation)
    yield built
    built.close()


def split_view_alarms(node: NationalNode) -> list[dict]:
    return [a for a in open_alarms(node) if a["reason"] == "split_view"]


async def test_two_witnesses_shown_logs_of_the_same_size_detect_the_split(split: Split) -> None:
    split.witness("IDN", split.grow(split.hub.store, 10, "-public"))
    split.witness("MEX", split.grow(split.forged, 10, "-for-mex"))  # same size, another root, same hub key
    with capture_logs() as logs:
        [result] = await split.compare("IDN", "MEX")
    assert (result.peer, result.outcome) == ("MEX", "split_view")
    [alarm] = split_view_alarms(split.nodes["IDN"])
    assert "two roots for size 10" in alarm["detail"]
    [error] = [e for e in logs if e["log_level"] == "error"]
    assert error["reason"] == "split_view" and error["peer"] == "MEX" and "auditors" in error["action"]
    [evidence] = (split.tmp / "evidence-IDN").iterdir()
    saved = json.loads(evidence.read_text())
    assert saved["note"] == latest_cosigned_note(split.nodes["IDN"])[1]  # both signed notes, as each node holds them
    assert saved["peer_note"] == latest_cosigned_note(split.nodes["MEX"])[1]
    assert "\n\u2014 MEX " in saved["peer_note"] and "\n\u2014 IDN " in saved["note"]
    assert saved["note"].split("\n")[1] == saved["peer_note"].split("\n")[1] == "10"


async def test_a_split_across_sizes_is_caught_by_the_hubs_own_consistency_proof(split: Split) -> None:
    split.witness("IDN", split.grow(split.hub.store, 20, "-public"))
    split.grow(split.hub.store, 40, "-public")  # the public log goes on; MEX is shown another one
    split.witness("MEX", split.grow(split.forged, 30, "-for-mex"))
    [result] = await split.compare("IDN", "MEX")
    assert result.outcome == "split_view" and "does not extend checkpoint 20" in result.detail
    assert len(split_view_alarms(split.nodes["IDN"])) == 1
    [result] = await split.compare("MEX", "IDN")  # and from the other side
    assert result.outcome == "split_view"
    assert len(split_view_alarms(split.nodes["MEX"])) == 1


async def test_witnesses_of_one_log_at_different_sizes_agree(split: Split) -> None:
    split.witness("IDN", split.grow(split.hub.store, 20, "-public"))
    split.witness("MEX", split.grow(split.hub.store, 30, "-public"))
    assert [r.outcome for r in await split.compare("IDN", "MEX")] == ["consistent"]
    assert [r.outcome for r in await split.compare("MEX", "IDN")] == ["consistent"]
    split.witness("IDN", split.grow(split.hub.store, 40, "-public"), proof_from=(split.hub.store, 20))
    assert open_alarms(split.nodes["IDN"]) == open_alarms(split.nodes["MEX"]) == []


async def test_a_hub_that_refuses_to_prove_a_size_it_signed_is_caught(split: Split) -> None:
    # The hub shows MEX a log of 30 entries but admits to 20 in public: it cannot answer for 20 -> 30.
    split.witness("IDN", split.grow(split.hub.store, 20, "-public"))
    split.witness("MEX", split.grow(split.forged, 30, "-for-mex"))
    [result] = await split.compare("IDN", "MEX")
    assert result.outcome == "split_view" and "refuses a consistency proof" in result.detail


async def test_a_checkpoint_the_peer_did_not_cosign_is_not_evidence(split: Split) -> None:
    split.witness("IDN", split.grow(split.hub.store, 10, "-public"))
    forged = split.grow(split.forged, 10, "-for-mex")  # hub-signed only: anyone could replay it
    with split.nodes["MEX"].store.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO witnessed_checkpoints (size, root, note, at) VALUES (10, x'00', ?, 'now')",
                             (forged,))
    [result] = await split.compare("IDN", "MEX")
    assert result.outcome == "bad_peer_checkpoint" and "not cosigned by the peer" in result.detail
    assert open_alarms(split.nodes["IDN"]) == []


async def test_an_unreachable_peer_is_a_warning_not_an_alarm(split: Split) -> None:
    split.witness("IDN", split.grow(split.hub.store, 10, "-public"))
    node = split.nodes["IDN"]
    node.config = NodeConfig("IDN", node.config.federation_dir, node.config.db_url,
                             witness_peers={"MEX": "http://127.0.0.1:9"})
    async with aiohttp.ClientSession() as http:
        [result] = await log_watch.check_peers(node, http)
    assert result.outcome == "unavailable" and open_alarms(node) == []
