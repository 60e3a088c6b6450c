"""Who may open the consoles, over a real socket: login, sessions, CSRF, roles, headers.

The browser tests (tests/browser) drive the same consoles in Chromium; these pin the rules a
browser cannot be trusted to show, such as what a forged POST gets.
"""

from __future__ import annotations

import re

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from nodes.hub.api import make_app as make_hub_app
from nodes.national.api import make_app as make_node_app
from tests.integration.federation import RunningFederation

pytestmark = pytest.mark.integration


@pytest.fixture
async def servers(fed: RunningFederation):  # noqa: ANN201
    node, hub = TestServer(make_node_app(fed.nodes["MEX"])), TestServer(make_hub_app(fed.hub))
    await node.start_server()
    await hub.start_server()
    yield {"node": str(node.make_url("")), "hub": str(hub.make_url(""))}
    await node.close()
    await hub.close()


def client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def log_in(session: aiohttp.ClientSession, base: str, token: str) -> aiohttp.ClientResponse:
    return await session.post(f"{base}/console/login", data={"token": token}, allow_redirects=False)


def csrf_of(html: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


async def test_no_page_works_without_login(servers) -> None:  # noqa: ANN001
    async with client() as s:
        for base in servers.values():
            async with s.get(f"{base}/console/", allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"].startswith("/console/login?next=")
        async with s.get(f"{servers['node']}/console/events", headers={"Accept": "text/event-stream"}) as r:
            assert r.status == 401


async def test_focal_logs_in_to_its_node_and_sees_health(servers, fed: RunningFederation) -> None:  # noqa: ANN001
    tokens = fed.federation.credentials("MEX").tokens
    async with client() as s:
        async with await log_in(s, servers["node"], tokens["focal"]) as r:
            assert r.status == 303 and r.headers["Location"] == "/console/"
            cookie = r.cookies["somex_session"]
            assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/console"
        async with s.get(f"{servers['node']}/console/") as r:
            assert r.status == 200
            html = await r.text()
            assert "Federation health" in html and "MEX" in html
            assert "script-src 'self'" in r.headers["Content-Security-Policy"]
            assert r.headers["X-Frame-Options"] == "DENY"


async def test_wrong_role_and_unknown_tokens_are_refused(servers, fed: RunningFederation) -> None:  # noqa: ANN001
    mex = fed.federation.credentials("MEX").tokens
    async with client() as s:
        async with await log_in(s, servers["hub"], mex["focal"]) as r:  # a focal token at the auditor console
            assert r.status == 401 and "somex_session" not in r.cookies
        async with await log_in(s, servers["node"], mex["auditor"]) as r:  # the node's auditor is not a focal point
            assert r.status == 403 and "for the focal role" in await r.text()
        async with await log_in(s, servers["node"], mex["feed"]) as r:
            assert r.status == 403
        async with s.get(f"{servers['node']}/console/", allow_redirects=False) as r:
            assert r.status == 303


async def test_focal_session_cannot_open_the_auditor_console(servers, fed: RunningFederation) -> None:  # noqa: ANN001
    """A session cookie is the console's own: the node's session means nothing at the hub."""
    async with client() as s:
        async with await log_in(s, servers["node"], fed.federation.credentials("MEX").tokens["focal"]) as r:
            sid = r.cookies["somex_session"].value
        async with s.get(f"{servers['hub']}/console/", cookies={"somex_session": sid}, allow_redirects=False) as r:
            assert r.status == 303 and "/console/login" in r.headers["Location"]


async def test_post_without_csrf_token_is_refused(servers, fed: RunningFederation) -> None:  # noqa: ANN001
    async with client() as s:
        await (await log_in(s, servers["node"], fed.federation.credentials("MEX").tokens["focal"])).release()
        async with s.get(f"{servers['node']}/console/") as r:
            token = csrf_of(await r.text())
        async with s.post(f"{servers['node']}/console/logout", data={}, allow_redirects=False) as r:
            assert r.status == 403 and "security token" in await r.text()
        async with s.post(f"{servers['node']}/console/logout", data={"csrf_token": "x" * 43}, allow_redirects=False) as r:
            assert r.status == 403
        async with s.post(f"{servers['node']}/console/logout", data={"csrf_token": token},
                          headers={"Origin": "http://evil.example"}, allow_redirects=False) as r:
            assert r.status == 403 and "another site" in await r.text()
        async with s.get(f"{servers['node']}/console/", allow_redirects=False) as r:
            assert r.status == 200  # still logged in: none of the forged requests did anything
        async with s.post(f"{servers['node']}/console/logout", data={"csrf_token": token}, allow_redirects=False) as r:
            assert r.status == 303
        async with s.get(f"{servers['node']}/console/", allow_redirects=False) as r:
            assert r.status == 303  # logged out: the session is gone


async def test_login_redirect_stays_inside_the_console(servers, fed: RunningFederation) -> None:  # noqa: ANN001
    token = fed.federation.credentials("MEX").tokens["focal"]
    async with client() as s:
        for target, expected in [("/console/events", "/console/events"), ("//evil.example/", "/console/"),
                                 ("https://evil.example/console/", "/console/")]:
            async with s.post(f"{servers['node']}/console/login", data={"token": token, "next": target},
                              allow_redirects=False) as r:
                assert r.headers["Location"] == expected


async def test_a_malformed_form_body_is_refused_not_a_server_error(servers, fed: RunningFederation) -> None:  # noqa: ANN001
    """Found by the schemathesis fuzzing: a multipart body no browser would send crashed the CSRF guard."""
    bad = (b'--b\r\nContent-Disposition: form-data; name="\xc2\xbe\x13"\r\n\r\nx\r\n--b--\r\n')
    async with client() as s:
        await (await log_in(s, servers["node"], fed.federation.credentials("MEX").tokens["focal"])).release()
        async with s.post(f"{servers['node']}/console/mla/new", data=bad,
                          headers={"Content-Type": "multipart/form-data; boundary=b"}, allow_redirects=False) as r:
            assert r.status == 403 and "security token" in await r.text()


CASE_PAGES = ("/console/cases", "/console/cases/new", "/console/cases/1", "/console/cases/1/withdraw",
              "/console/cases/search?name=x", "/console/cases/jits", "/console/cases/jits/jit:x")
CASE_ACTIONS = ("/console/cases/new", "/console/cases/1/share", "/console/cases/1/permission",
                "/console/cases/1/information", "/console/cases/1/withdraw", "/console/cases/jits",
                "/console/cases/jits/jit:x/messages")


async def test_case_pages_need_login_and_their_forms_the_csrf_token(servers, fed: RunningFederation) -> None:  # noqa: ANN001
    node = servers["node"]
    async with client() as s:
        for path in CASE_PAGES:
            async with s.get(f"{node}{path}", allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"].startswith("/console/login?next="), path
        for path in CASE_ACTIONS:
            async with s.post(f"{node}{path}", data={"to": "IDN"}, allow_redirects=False) as r:
                assert r.status == 403, path
        await (await log_in(s, node, fed.federation.credentials("MEX").tokens["focal"])).release()
        for path in CASE_ACTIONS:  # logged in, but a forged form without the token
            async with s.post(f"{node}{path}", data={"to": "IDN", "text": "x", "members": "IDN"},
                              allow_redirects=False) as r:
                assert r.status == 403 and "security token" in await r.text(), path
        async with s.get(f"{node}/console/cases") as r:
            token = csrf_of(await r.text())
        # With the token: no such case or thread is a 404 page with the reason, even past what SQL holds.
        for path in ("/console/cases/999/withdraw", f"/console/cases/{2 ** 70}/share",
                     "/console/cases/jits/jit:x/messages"):
            async with s.post(f"{node}{path}", data={"csrf_token": token, "to": "IDN", "text": "x",
                                                      "code": "H0", "retention_days": "9"},
                              allow_redirects=False) as r:
                assert r.status == 404 and "not_found" in await r.text(), path
        for path in (f"/console/cases/{2 ** 70}", "/console/cases/999?partial=1", "/console/cases/jits/nope"):
            async with s.get(f"{node}{path}", allow_redirects=False) as r:
                assert r.status == 404, path
        assert not [c for c in fed.nodes["MEX"].store.list(direction="out") if c.type.startswith("case.")]


async def test_alert_pages_need_a_focal_session_and_their_forms_the_csrf_token(servers, fed: RunningFederation) -> None:  # noqa: ANN001
    node = servers["node"]
    async with client() as s:
        for path in ("/console/alerts", "/console/alerts/feeds", "/console/alerts/feeds/x", "/console/alerts/hits"):
            async with s.get(f"{node}{path}", allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"].startswith("/console/login?next=")
        await (await log_in(s, node, fed.federation.credentials("MEX").tokens["focal"])).release()
        check = {"country": "IDN", "type": "passport", "number": "A1"}
        async with s.post(f"{node}/console/alerts/check", data=check, allow_redirects=False) as r:
            assert r.status == 403 and "security token" in await r.text()
        upload = aiohttp.FormData()
        upload.add_field("feed", b"{}\n", filename="a.ndjson", content_type="application/x-ndjson")
        async with s.post(f"{node}/console/alerts/feeds", data=upload, allow_redirects=False) as r:
            assert r.status == 403 and "security token" in await r.text()
        async with s.get(f"{node}/console/alerts/feeds") as r:
            token = csrf_of(await r.text())
            assert 'id="feeds"' in await r.text() and "data-job-id" not in await r.text()  # nothing was pushed
        # With the token, a form the page would never send is refused with a reason, not a server error.
        async with s.post(f"{node}/console/alerts/feeds", data={"csrf_token": token}, allow_redirects=False) as r:
            assert r.status == 400 and "bad_request" in await r.text()
        async with s.post(f"{node}/console/alerts/check", json=check, headers={"X-CSRF-Token": token},
                          allow_redirects=False) as r:
            assert r.status == 400 and "bad_request" in await r.text()


async def test_any_thread_name_has_its_page_even_with_a_line_break(servers, fed: RunningFederation) -> None:  # noqa: ANN001
    """The fuzzer found a thread name holding a line break answered by the router's bare 404."""
    async with client() as s:
        await (await log_in(s, servers["hub"], fed.federation.credentials("HUB").tokens["auditor"])).release()
        async with s.get(f"{servers['hub']}/console/threads/%0Ajit%3Ax/y") as r:
            assert r.status == 200 and "Thread \njit:x/y" in await r.text()
