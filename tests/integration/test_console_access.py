"""Who may open the consoles, over a real socket: login, sessions, CSRF, roles, headers.

The browser tests (tests/browser) drive the same consoles in Chromium; these pin the rules a
browser cannot be trusted to show, such as what a forged POST gets.
"""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from nodes.hub.api import make_app as make_hub_app
from nodes.national import witness
from nodes.national.api import make_app as make_node_app
from nodes.plumbing.console import cookie_name
from nodes.plumbing.http import FAILURES, RATE
from protocol.ratelimit import RateLimit, TokenBuckets
from tests.integration.federation import RunningFederation

COOKIE_OF = {"node": cookie_name("MEX"), "hub": cookie_name("HUB")}  # each console's own session cookie

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
            cookie = r.cookies[cookie_name("MEX")]
            assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/console"
        async with s.get(f"{servers['node']}/console/") as r:
            assert r.status == 200
            html = await r.text()
            assert "Federation health" in html and "MEX" in html
            assert "script-src 'self'" in r.headers["Content-Security-Policy"]
            assert r.headers["X-Frame-Options"] == "DENY"
            # A page's own forms must send its Origin: under `no-referrer` Chromium sends `Origin: null`.
            assert r.headers["Referrer-Policy"] == "same-origin"
        async with s.get(f"{servers['node']}/console/login") as r:
            assert r.headers["Referrer-Policy"] == "same-origin"


async def test_the_front_pages_show_every_kind_of_alarm(servers, fed: RunningFederation) -> None:  # noqa: ANN001
    """An alarm is what the front page is for: a witness alarm (stored: no count, no message), a
    watchdog alarm about no one message (the hub silent) and one about a message are all shown, on
    the node's console and the hub's (the page once failed with 500 on the first two)."""
    mex = fed.nodes["MEX"]
    witness.raise_alarm(mex, "split_view", "inconsistent_checkpoint", "the hub showed two logs")
    mex.alarms.raise_alarm("hub_silent", "hub_silent", "no answer from the hub")
    mex.alarms.raise_alarm("overdue:m-1", "delivery_overdue", "no receipt", message_id="m-1")
    fed.hub.alarms.raise_alarm("storage", "storage_unavailable", "the audit database is not answering")
    tokens = fed.federation.credentials("MEX").tokens
    async with client() as s:
        (await log_in(s, servers["node"], tokens["focal"])).close()
        async with s.get(f"{servers['node']}/console/") as r:
            html = await r.text()
            assert r.status == 200, html
        for detail in ("the hub showed two logs", "no answer from the hub", "no receipt"):
            assert detail in html
        assert '<a href="/console/messages/m-1">m-1</a>' in html
    async with client() as s:
        (await log_in(s, servers["hub"], fed.federation.credentials("HUB").tokens["auditor"])).close()
        async with s.get(f"{servers['hub']}/console/") as r:
            html = await r.text()
            assert r.status == 200 and "the audit database is not answering" in html, html


async def test_wrong_role_and_unknown_tokens_are_refused(servers, fed: RunningFederation) -> None:  # noqa: ANN001
    mex = fed.federation.credentials("MEX").tokens
    async with client() as s:
        async with await log_in(s, servers["hub"], mex["focal"]) as r:  # a focal token at the auditor console
            assert r.status == 401 and cookie_name("HUB") not in r.cookies
            assert "Use HUB's auditor token" in await r.text()  # says which token works here
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
            sid = r.cookies[cookie_name("MEX")].value
        async with s.get(f"{servers['hub']}/console/", cookies={cookie_name("HUB"): sid}, allow_redirects=False) as r:
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
                                 ("https://evil.example/console/", "/console/"),
                                 ("/console/mla/1?ok=sent%20it", "/console/mla/1?ok=sent%20it")]:
            async with s.post(f"{servers['node']}/console/login", data={"token": token, "next": target},
                              allow_redirects=False) as r:
                assert r.headers["Location"] == expected


# Each is answered with the home page; the first is issue 26's, sent exactly so (the form's encoding
# of `next` is written out, so the server decodes %0D%0A to CR LF).
BAD_NEXTS = ("/console/%0D%0AX-Injected:%201", "/console/%0AX-Injected:%201", "/console/%250D%250AX-Injected:",
             "/console/%25E2%2580%25A8", "/console/%25C2%2585", "/console/%00", "/console/%7F", "%2F%2Fevil.example%2F", "%2F%5Cevil.example%2F",
             "%2Fconsole%2F%5Cevil.example", "http%3A%2F%2Fevil.example%2Fconsole%2F", "%2Fconsole%2F..%2Fapi%2Fhealth",
             "%2Fconsole%2F%252e%252e%2Fapi%2Fhealth", "%2Fconsole%2F%C3%A9", "%2Fconsole%2Fa%20b", "javascript:alert(1)",
             "%2Fconsole%2Flogin%3Fnext%3D%2F%2Fevil.example", "%2Fconsole")


@pytest.mark.parametrize("base", ["node", "hub"])
async def test_a_next_that_is_not_a_console_path_leads_to_the_home_page(servers, fed: RunningFederation,  # noqa: ANN001
                                                                        base: str) -> None:
    """Issue 26: CR LF in `next` closed the connection unanswered (aiohttp refuses the header)."""
    token = console_token(fed, base)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    async with client() as s:
        for target in BAD_NEXTS:
            async with s.post(f"{servers[base]}/console/login", data=f"token={token}&next={target}", headers=form,
                              allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"] == "/console/", target
                assert "X-Injected" not in r.headers and COOKIE_OF[base] in r.cookies, target
            async with s.get(f"{servers[base]}/console/login?next={target}") as r:  # the form does not carry it on
                assert r.status == 200 and 'name="next"' not in await r.text(), target


def console_token(fed: RunningFederation, base: str) -> str:
    """The token that logs in to the node's (MEX focal) or the hub's (auditor) console."""
    country, role = ("MEX", "focal") if base == "node" else ("HUB", "auditor")
    return fed.federation.credentials(country).tokens[role]


async def _log_in_with_csrf(s: aiohttp.ClientSession, base: str, token: str) -> str:
    async with await log_in(s, base, token) as r:
        assert r.status == 303
    async with s.get(f"{base}/console/") as r:
        return csrf_of(await r.text())


def console_posts(app: web.Application) -> list[str]:
    """Every POST route under /console, its path parameters filled with a sample value."""
    paths = {re.sub(r"\{[^}]*\}", "1", route.resource.canonical) for route in app.router.routes()
             if route.method == "POST" and route.resource is not None
             and route.resource.canonical.startswith("/console")}
    return sorted(paths)


@pytest.mark.parametrize("base", ["node", "hub"])
async def test_origin_null_is_foreign_on_every_console_post(servers, fed: RunningFederation,  # noqa: ANN001
                                                            base: str) -> None:
    """Issue 26: `Origin: null` (a sandboxed frame, a data: URL) passed the check; login set a session."""
    token = console_token(fed, base)
    paths = console_posts(make_node_app(fed.nodes["MEX"]) if base == "node" else make_hub_app(fed.hub))
    assert "/console/login" in paths and "/console/logout" in paths
    if base == "node":
        assert {"/console/mla/new", "/console/cases/1/share", "/console/alerts/feeds"} <= set(paths)
    async with client() as s:
        csrf = await _log_in_with_csrf(s, servers[base], token)
        for path in paths:
            for origin in ("null", "NULL", "", "file://", "http://evil.example"):
                async with s.post(f"{servers[base]}{path}", data={"csrf_token": csrf, "token": token},
                                  headers={"Origin": origin, "X-CSRF-Token": csrf}, allow_redirects=False) as r:
                    assert r.status == 403 and "another site" in await r.text(), (path, origin, r.status)
                    assert cookie_name("MEX") not in r.cookies and cookie_name("HUB") not in r.cookies, (path, origin)
        async with s.get(f"{servers[base]}/console/", allow_redirects=False) as r:
            assert r.status == 200  # still logged in: the refused logout did nothing
        # The same requests from the console's own origin do pass the check (so the 403s above were the Origin's).
        own = servers[base].rstrip("/")
        async with s.post(f"{servers[base]}/console/login", data={"token": token}, headers={"Origin": own},
                          allow_redirects=False) as r:
            assert r.status == 303
        csrf = await _log_in_with_csrf(s, servers[base], token)
        async with s.post(f"{servers[base]}/console/logout", data={"csrf_token": csrf}, headers={"Origin": own},
                          allow_redirects=False) as r:
            assert r.status == 303


CONSOLE_PAGES = {"node": ("/console/", "/console/inbox", "/console/sent", "/console/mla", "/console/cases"),
                 "hub": ("/console/", "/console/trails", "/console/checkpoint")}
API = {"node": "/api/messages", "hub": "/api/audit/entries"}  # behind a token


@pytest.mark.parametrize("base", ["node", "hub"])
async def test_a_flood_of_wrong_tokens_does_not_lock_out_the_users_behind_the_same_address(
        fed: RunningFederation, base: str) -> None:
    """Issue 26: the flood drained the address's bucket, so 41 of 43 page loads and every login got 429."""
    token = console_token(fed, base)
    app = make_node_app(fed.nodes["MEX"]) if base == "node" else make_hub_app(fed.hub)
    app[RATE] = TokenBuckets(RateLimit(per_second=0.01, burst=60))  # each caller: 60 requests, then 1 per 100 s
    app[FAILURES] = TokenBuckets(RateLimit(per_second=0.01, burst=20))
    async with TestServer(app) as server, client() as flood, client() as alice, client() as bob:
        url = str(server.make_url("")).rstrip("/")
        async with await log_in(alice, url, token) as r:  # logged in before the flood
            assert r.status == 303

        async def wrong(i: int) -> aiohttp.ClientResponse:
            if i % 2:
                return await flood.get(f"{url}{API[base]}", headers={"Authorization": f"Bearer wrong-{i:040d}"})
            return await log_in(flood, url, f"wrong-{i:040d}")

        refused = None
        for i in range(200):  # until the flood is throttled
            async with await wrong(i) as r:
                assert r.status in (401, 429), r.status
                if r.status == 429:
                    refused = (i, await r.json(), int(r.headers["Retry-After"]))
                    break

        async def keep_flooding() -> list[int]:
            statuses = []
            for i in range(60):
                async with await wrong(i) as r:
                    statuses.append(r.status)
                    assert r.status != 429 or int(r.headers["Retry-After"]) >= 1
            return statuses

        async def alice_browses() -> list[int]:
            statuses = []
            for _ in range(4):
                for path in CONSOLE_PAGES[base]:
                    async with alice.get(f"{url}{path}", allow_redirects=False) as r:
                        statuses.append(r.status)
            return statuses

        async def bob_logs_in() -> list[int]:
            statuses = []
            async with bob.get(f"{url}/console/login") as r:
                statuses.append(r.status)
            async with await log_in(bob, url, token) as r:
                statuses.append(r.status)
            for path in CONSOLE_PAGES[base]:
                async with bob.get(f"{url}{path}", allow_redirects=False) as r:
                    statuses.append(r.status)
            async with bob.get(f"{url}{API[base]}", headers={"Authorization": f"Bearer {token}"}) as r:
                statuses.append(r.status)
            return statuses

        flooded, browsed, logged_in = await asyncio.gather(keep_flooding(), alice_browses(), bob_logs_in())
        assert browsed == [200] * (4 * len(CONSOLE_PAGES[base]))
        assert logged_in == [200, 303, *[200] * len(CONSOLE_PAGES[base]), 200]
        # The flood itself is throttled: 20 failures, then 429 with Retry-After for every one.
        assert refused is not None and refused[0] == 20 and refused[1]["error"] == "rate_limited"
        assert refused[2] >= 1 and "failed" in refused[1]["detail"]
        assert flooded == [429] * 60


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


async def test_a_request_id_with_cr_lf_in_the_address_is_answered_not_put_into_a_header(
        servers, fed: RunningFederation) -> None:  # noqa: ANN001
    """The same defect as `next`'s, found by looking for it: the MLA action's redirect carried the
    request id from the path as it was, so CR LF in it closed the connection unanswered."""
    node = servers["node"]
    async with client() as s:
        csrf = await _log_in_with_csrf(s, node, fed.federation.credentials("MEX").tokens["focal"])
        async with s.post(f"{node}/console/mla/%0D%0AX-Injected:%201/events", data={"csrf_token": csrf},
                          allow_redirects=False) as r:
            assert r.status == 303 and "X-Injected" not in r.headers
            assert r.headers["Location"].startswith("/console/mla/%0D%0AX-Injected%3A%201?error=")
