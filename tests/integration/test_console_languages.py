"""The consoles' language over a real socket: the selector's cookie and redirect, Accept-Language,
the headers that say which language a page is in, and words quoting a visitor's input."""

from __future__ import annotations

import re

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from nodes.hub.api import make_app as make_hub_app
from nodes.national.api import make_app as make_node_app
from nodes.national.features.person import issuing
from nodes.national.features.person import store as person_store
from nodes.plumbing.config import utcnow
from tests.integration.federation import RunningFederation, eventually
from tests.integration.test_console_access import csrf_of, log_in
from tests.integration.test_person_alerts import person_alert, td3

pytestmark = pytest.mark.integration


@pytest.fixture
async def servers(fed: RunningFederation):  # noqa: ANN201
    node, hub = TestServer(make_node_app(fed.nodes["MEX"])), TestServer(make_hub_app(fed.hub))
    await node.start_server()
    await hub.start_server()
    yield {"node": str(node.make_url("")).rstrip("/"), "hub": str(hub.make_url("")).rstrip("/")}
    await node.close()
    await hub.close()


def client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_the_browsers_language_is_the_default_and_the_page_says_which_it_is(servers) -> None:  # noqa: ANN001
    async with client() as s:
        async with s.get(f"{servers['node']}/console/login", headers={"Accept-Language": "ar-EG,ar;q=0.9,en;q=0.5"}) as r:
            html = await r.text()
            assert r.status == 200 and r.headers["Content-Language"] == "ar"
            assert "Accept-Language" in r.headers["Vary"] and "Cookie" in r.headers["Vary"]
            assert '<html lang="ar" dir="rtl">' in html and "تسجيل الدخول" in html
        async with s.get(f"{servers['hub']}/console/login", headers={"Accept-Language": "de, ru;q=0.4"}) as r:
            assert r.headers["Content-Language"] == "ru" and '<html lang="ru" dir="ltr">' in await r.text()


async def test_the_chosen_language_is_remembered_and_beats_the_browsers(servers) -> None:  # noqa: ANN001
    async with client() as s:
        async with s.get(f"{servers['node']}/console/language",
                         params={"lang": "zh", "back": "/console/login?next=/console/mla"},
                         allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/console/login?next=%2Fconsole%2Fmla"
            cookie = r.cookies["somex_lang"]
            assert cookie.value == "zh" and cookie["path"] == "/console" and cookie["samesite"] == "Lax"
        async with s.get(f"{servers['node']}/console/login", headers={"Accept-Language": "fr"}) as r:
            assert r.headers["Content-Language"] == "zh" and "登录" in await r.text()


@pytest.mark.parametrize("back", ["https://evil.example/console/", "//evil.example/", "/console/%0d%0aSet-Cookie:x=1"])
async def test_the_selector_goes_back_only_to_a_page_of_this_console(servers, back: str) -> None:  # noqa: ANN001
    async with client() as s:
        async with s.get(f"{servers['hub']}/console/language", params={"lang": "es", "back": back},
                         allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/console/"
            assert "Set-Cookie" not in r.headers or "x=1" not in r.headers.getall("Set-Cookie")[0].split(";")[0]


async def test_a_language_that_is_not_one_of_the_six_is_refused_in_words(servers) -> None:  # noqa: ANN001
    async with client() as s:
        async with s.get(f"{servers['node']}/console/language", params={"lang": "de"},
                         headers={"Accept-Language": "es"}, allow_redirects=False) as r:
            assert r.status == 400 and "somex_lang" not in r.cookies
            assert "Idioma desconocido" in await r.text()


async def test_an_error_detail_with_a_percent_sign_is_shown_not_crashed(servers, fed: RunningFederation) -> None:  # noqa: ANN001
    """The hub's entry page quotes the visitor's entry number in its error detail; the heading and
    the detail are translated, the number shown as it came, whatever `%` it holds."""
    token = fed.federation.credentials("HUB").tokens["auditor"]
    async with client() as s:
        async with s.post(f"{servers['hub']}/console/login", data={"token": token}, allow_redirects=False) as r:
            assert r.status == 303
        s.cookie_jar.update_cookies({"somex_lang": "fr"})
        async with s.get(f"{servers['hub']}/console/entries/1%25%28x%29s") as r:
            html = await r.text()
            assert r.status == 400, html
            assert "Pas un numéro d&#39;entrée" in html and "&#39;1%(x)s&#39; n&#39;est pas un numéro d&#39;entrée." in html


async def test_the_border_check_page_and_the_person_alert_codes_read_in_french(fed: RunningFederation) -> None:
    """A feature's own page (nodes/national/features/person/templates): the form, a refusal by its
    reason code, and a HIT banner whose codes (basis, handling, birth-date agreement, check kind)
    are labels in the reader's language, not codes or English."""
    await issuing.issue(fed.nodes["MEX"].contexts["person"], person_alert("MX-FR-1"))
    await eventually(lambda: person_store.replica_count(fed.nodes["ITA"].store.engine,
                                                        utcnow().date().isoformat()) == 1,
                     what="the person alert at ITA")
    server = TestServer(make_node_app(fed.nodes["ITA"]))
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    zone = td3("MEX", "G7777777", "HADDAD", "MOHAMED", "800517")
    line1, line2 = zone.split("\n")
    bad = f"{line1}\n{line2[:9]}{(int(line2[9]) + 1) % 10}{line2[10:]}"
    try:
        async with client() as s:
            await (await log_in(s, base, fed.federation.credentials("ITA").tokens["focal"])).release()
            s.cookie_jar.update_cookies({"somex_lang": "fr"})
            async with s.get(f"{base}/console/border") as r:
                form = await r.text()
                assert r.status == 200 and r.headers["Content-Language"] == "fr"
            assert ">Contrôle aux frontières</a>" in form  # the feature's menu entry
            assert "Zone de lecture automatique (collez les deux ou trois lignes)" in form
            assert '<option value="carrier">contrôle par le transporteur</option>' in form
            assert '<option value="identity_card">' in form and ">identity card<" not in form
            token = csrf_of(form)
            async with s.post(f"{base}/console/border", data={"csrf_token": token, "mrz": bad}) as r:
                refused = await r.text()
                assert r.status == 400
            assert "Non vérifié : zone de lecture automatique : chiffre de contrôle erroné" in refused
            async with s.post(f"{base}/console/border", data={"csrf_token": token, "mrz": zone, "check": "carrier",
                                                              "point": "Fiumicino T3"}) as r:
                hit = await r.text()
                assert r.status == 200
            assert "CONCORDANCE : ne laissez pas passer le voyageur" in hit
            assert "Signalement de personne de Mexique (MEX), soupçonné, référence" in hit
            assert "date de naissance : concorde" in hit
            assert "traitement : H2 : pas de transmission ultérieure sans autorisation" in hit
            assert '<p class="why mono" lang="en">' in hit  # the matcher's explanation: English, marked so
            shown = re.sub(r'<p class="why mono" lang="en">.*?</p>', "", hit, flags=re.S)
            for english in ("HIT:", "suspected", "date of birth", "Reference of this check"):
                assert english not in shown, english
    finally:
        await server.close()
