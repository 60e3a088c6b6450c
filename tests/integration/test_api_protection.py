"""The HTTP APIs under abuse, over a real socket: rate limits per token and per address, request
size limits, security headers, and tokens the server holds only as digests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from nodes.hub.api import make_app as make_hub_app
from nodes.hub.relay import Hub
from nodes.national.api import make_app as make_node_app
from nodes.national.node import NationalNode
from nodes.plumbing.config import HTTP_FAILURE_LIMIT, HTTP_RATE_LIMIT, HubConfig, NodeConfig, utcnow
from nodes.plumbing.federation import Federation, load_federation
from nodes.app.ceremony import init_federation
from nodes.plumbing.http import ROLE
from protocol.ratelimit import RateLimit

SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                    "X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}
SLOW = RateLimit(per_second=0.01, burst=3)  # three requests, then one per 100 s


@pytest.fixture
def federation(tmp_path: Path) -> Federation:
    init_federation(tmp_path / "federation", "api-test", ["MEX", "IDN"], utcnow())
    return load_federation(tmp_path / "federation", utcnow())


Serve = Callable[..., Awaitable[aiohttp.ClientSession]]


@pytest.fixture
async def mex_api(federation: Federation, tmp_path: Path) -> AsyncIterator[Serve]:
    """MEX's API (real aiohttp app and SQLite, no broker needed) with a given rate limit."""
    opened: list = []

    async def serve(limit: RateLimit, failures: RateLimit = HTTP_FAILURE_LIMIT) -> aiohttp.ClientSession:
        config = NodeConfig("MEX", federation.path, f"sqlite:///{tmp_path / 'MEX.db'}", http_rate_limit=limit,
                            http_failure_limit=failures)
        node = NationalNode(config, federation)
        server = TestServer(make_node_app(node))
        await server.start_server()
        session = aiohttp.ClientSession(base_url=str(server.make_url("/")))
        opened.append((node, server, session))
        return session

    yield serve
    for node, server, session in opened:
        await session.close()
        await server.close()
        node.store.engine.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_over_its_rate_gets_429_with_retry_after_while_other_tokens_go_on(
        mex_api: Serve, federation: Federation) -> None:
    session = await mex_api(SLOW)
    tokens = federation.credentials("MEX").tokens
    for _ in range(3):
        async with session.get("/api/messages", headers=bearer(tokens["focal"])) as r:
            assert r.status == 200
    async with session.get("/api/messages", headers=bearer(tokens["focal"])) as r:
        assert r.status == 429 and (await r.json())["error"] == "rate_limited"
        assert 1 <= int(r.headers["Retry-After"]) <= 100
        assert {h: r.headers.get(h) for h in SECURITY_HEADERS} == SECURITY_HEADERS
    async with session.get("/api/messages", headers=bearer(tokens["auditor"])) as r:
        assert r.status == 200  # a bucket per token


async def test_requests_without_a_valid_token_share_one_bucket_per_address(
        mex_api: Serve, federation: Federation) -> None:
    session = await mex_api(SLOW)
    for _ in range(3):
        async with session.get("/api/health") as r:
            assert r.status == 200
    async with session.get("/api/health") as r:
        assert r.status == 429 and (await r.json())["error"] == "rate_limited"
    async with session.get("/api/messages", headers=bearer(federation.credentials("MEX").tokens["focal"])) as r:
        assert r.status == 200  # the holder of a real token is not affected


async def test_wrong_tokens_spend_a_bucket_of_failures_that_nobody_else_spends_from(
        mex_api: Serve, federation: Federation) -> None:
    """Issue 26: wrong tokens drained the address's one bucket and locked out everyone behind it."""
    session = await mex_api(SLOW, failures=RateLimit(per_second=0.01, burst=2))
    for _ in range(2):
        async with session.get("/api/messages", headers=bearer("guess-" + "x" * 40)) as r:
            assert r.status == 401
    async with session.get("/api/messages", headers=bearer("guess-" + "y" * 40)) as r:
        assert r.status == 429 and 1 <= int(r.headers["Retry-After"]) <= 100
        assert "failed tokens" in (await r.json())["detail"]
    async with session.post("/console/login", data={"token": "guess"}, allow_redirects=False) as r:
        assert r.status == 429  # a failed login is a failure too
    for _ in range(3):  # anonymous callers at the same address keep their own bucket
        async with session.get("/api/health") as r:
            assert r.status == 200
    focal = federation.credentials("MEX").tokens["focal"]
    async with session.get("/api/messages", headers=bearer(focal)) as r:
        assert r.status == 200
    async with session.post("/console/login", data={"token": focal}, allow_redirects=False) as r:
        assert r.status == 303  # a right login is checked first and spends from its token's bucket


async def test_default_limit_lets_a_bulk_client_through(mex_api: Serve, federation: Federation) -> None:
    session = await mex_api(HTTP_RATE_LIMIT)
    statuses = []
    for _ in range(300):
        async with session.get("/api/messages?limit=1", headers=bearer(federation.credentials("MEX").tokens["feed"])) as r:
            statuses.append(r.status)
    assert statuses == [403] * 300  # refused for its role, never throttled


async def test_request_body_over_the_size_limit_gets_413_with_a_reason_and_queues_nothing(
        mex_api: Serve, federation: Federation, tmp_path: Path) -> None:
    session = await mex_api(SLOW)
    huge = json.dumps({"type": "note", "to": ["IDN"], "body": {"text": "x" * (1024 * 1024)}})
    async with session.post("/api/messages", data=huge, headers={**bearer(federation.credentials("MEX").tokens["focal"]),
                                                                  "Content-Type": "application/json"}) as r:
        assert r.status == 413
        assert (await r.json())["error"] == "request_too_large"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    async with session.get("/api/health") as r:
        assert (await r.json())["outbox_pending"] == 0


@pytest.mark.parametrize(("path", "auth", "status"), [
    ("/api/health", False, 200), ("/api/messages", False, 401), ("/api/messages/nope", True, 404), ("/nowhere", True, 404),
])
async def test_every_answer_carries_the_security_headers(mex_api: Serve, federation: Federation, path: str,
                                                        auth: bool, status: int) -> None:
    session = await mex_api(SLOW)
    headers = bearer(federation.credentials("MEX").tokens["focal"]) if auth else {}
    async with session.get(path, headers=headers) as r:
        assert r.status == status
        assert {h: r.headers.get(h) for h in SECURITY_HEADERS} == SECURITY_HEADERS


async def test_the_api_holds_only_token_digests_yet_accepts_the_operators_token(
        federation: Federation, tmp_path: Path) -> None:
    node = NationalNode(NodeConfig("MEX", federation.path, f"sqlite:///{tmp_path / 'MEX.db'}"), federation)
    app = make_node_app(node)
    clear = federation.credentials("MEX").tokens
    assert set(app[ROLE]) == set(clear) and not set(app[ROLE].values()) & set(clear.values())
    stored = (federation.path / "nodes" / "MEX" / "tokens.json").read_text()
    assert not any(token in stored for token in clear.values())
    async with TestServer(app) as server, aiohttp.ClientSession(base_url=str(server.make_url("/"))) as session:
        async with session.get("/api/messages", headers=bearer(clear["auditor"])) as r:
            assert r.status == 200
        async with session.get("/api/messages", headers=bearer(app[ROLE]["auditor"])) as r:
            assert r.status == 401  # the stored digest is not itself a token
    node.store.engine.dispose()


async def test_hub_api_is_rate_limited_too(federation: Federation, tmp_path: Path) -> None:
    hub = Hub(HubConfig(federation.path, f"sqlite:///{tmp_path / 'audit.db'}", http_rate_limit=RateLimit(0.01, 2)),
              federation)
    async with TestServer(make_hub_app(hub)) as server, \
            aiohttp.ClientSession(base_url=str(server.make_url("/"))) as session:
        for expected in (404, 404, 429):  # no checkpoint yet, twice; then throttled
            async with session.get("/api/log/checkpoint") as r:
                assert r.status == expected
                assert r.headers["X-Frame-Options"] == "DENY"
