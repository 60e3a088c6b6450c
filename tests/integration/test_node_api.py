"""The node's HTTP API over a real socket: roles, typed errors, sending and reading messages."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from nodes.national.api import make_app
from tests.integration.federation import RunningFederation, eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def api(fed: RunningFederation):  # noqa: ANN201
    server = TestServer(make_app(fed.nodes["MEX"]))
    await server.start_server()
    tokens = fed.federation.credentials("MEX").tokens
    async with aiohttp.ClientSession(base_url=str(server.make_url("/"))) as session:
        yield session, tokens
    await server.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_focal_point_sends_a_note_and_reads_its_delivery_receipt(api, fed: RunningFederation) -> None:  # noqa: ANN001
    session, tokens = api
    async with session.post("/api/messages", headers=bearer(tokens["focal"]),
                            json={"type": "note", "to": ["IDN"], "body": {"text": "hi"}, "thread": "t1"}) as r:
        assert r.status == 202
        sent = await r.json()
    await eventually(lambda: fed.nodes["IDN"].store.get(sent["id"]), what="delivery")

    async def receipt() -> list:
        async with session.get(f"/api/messages/{sent['id']}", headers=bearer(tokens["focal"])) as r:
            return (await r.json())["receipts"]

    [got] = await eventually(receipt, what="receipt through the API")
    assert got["by"] == "IDN" and got["kind"] == "delivered"


async def test_requests_without_a_valid_token_are_refused(api) -> None:  # noqa: ANN001
    session, tokens = api
    async with session.get("/api/messages") as r:
        assert r.status == 401 and (await r.json())["error"] == "unauthenticated"
    async with session.get("/api/messages", headers=bearer(tokens["focal"] + "x")) as r:
        assert r.status == 401
    async with session.post("/api/messages", headers=bearer(tokens["auditor"]),
                            json={"type": "note", "to": ["IDN"], "body": {"text": "hi"}}) as r:
        assert r.status == 403 and (await r.json())["error"] == "forbidden"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"type": "note", "to": ["FRA"], "body": {"text": "x"}}, "unknown_recipient"),
        ({"type": "note", "to": ["IDN"], "body": {"text": 5}}, "bad_body"),
        ({"type": "nope", "to": ["IDN"], "body": {}}, "unknown_type"),
        ({"type": "note", "to": ["IDN"], "body": {"text": "x"}, "bcc": ["ITA"]}, "unknown_field"),
        ({"type": "note", "to": "IDN"}, "bad_request"),
    ],
)
async def test_bad_requests_get_a_typed_error_and_send_nothing(api, fed, payload, reason) -> None:  # noqa: ANN001
    session, tokens = api
    async with session.post("/api/messages", headers=bearer(tokens["focal"]), json=payload) as r:
        assert r.status == 400
        assert (await r.json())["error"] == reason
    assert fed.nodes["MEX"].store.outbox_depth() == 0
    assert fed.nodes["MEX"].store.list(direction="out") == []


async def test_malformed_json_is_refused(api) -> None:  # noqa: ANN001
    session, tokens = api
    async with session.post("/api/messages", headers={**bearer(tokens["focal"]), "Content-Type": "application/json"},
                            data=b"{not json") as r:
        assert r.status == 400 and (await r.json())["error"] == "malformed_json"


@pytest.mark.parametrize("path", ["/api/messages?limit=ten", "/api/messages?offset=1.5",
                                  "/api/documents/hits?limit=x", "/api/feeds/nope?error_offset=x"])
async def test_paging_parameters_that_are_not_integers_get_a_typed_error(api, path: str) -> None:  # noqa: ANN001
    session, tokens = api
    async with session.get(path, headers=bearer(tokens["focal"])) as r:
        assert r.status == 400
        assert (await r.json())["error"] == "bad_request"


async def test_the_nodes_run_on_the_database_the_suite_asked_for(fed: RunningFederation) -> None:
    """CI runs the node suite twice: SQLite files, then SOMEX_TEST_NODE_DB=postgresql (issue 18)."""
    import os

    wanted = os.environ.get("SOMEX_TEST_NODE_DB", "sqlite")
    assert {node.store.engine.dialect.name for node in fed.nodes.values()} == {wanted}
