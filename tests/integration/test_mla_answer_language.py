"""Issue 17: an MLA answer carries its language. The answering focal point's console offers its own
language for the note; the receiving console shows the note as written, marked with that language
(`lang` and a label in the reader's language); an answer without one still shows, "not stated"."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from nodes.national.api import make_app as make_node_app
from tests.integration.federation import RunningFederation, eventually
from tests.integration.test_console_access import csrf_of, log_in
from tests.integration.test_mla import drive, fields, focal, state_of

pytestmark = pytest.mark.integration


def client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_an_answer_carries_its_language_to_the_requesting_console(fed: RunningFederation) -> None:
    ita, mex = fed.nodes["ITA"], fed.nodes["MEX"]
    rid = ita.mla.create(fields("ITA-LANG"))["id"]
    await eventually(lambda: any(x["id"] == rid for x in mex.mla.list()), what="the request at MEX")
    mex_server, ita_server = TestServer(make_node_app(mex)), TestServer(make_node_app(ita))
    await mex_server.start_server()
    await ita_server.start_server()
    try:
        mex_base, ita_base = (str(s.make_url("")).rstrip("/") for s in (mex_server, ita_server))
        async with client() as s:  # MEX's focal point reads the console in Spanish
            s.cookie_jar.update_cookies({"somex_lang": "es"})
            assert (await log_in(s, mex_base, mex.creds.tokens["focal"])).status == 303
            async with s.get(f"{mex_base}/console/mla/{rid}") as r:
                html = await r.text()
            assert '<option value="es" selected>' in html  # the note's language offered: the console's
            async with s.post(f"{mex_base}/console/mla/{rid}/events", allow_redirects=False,
                              data={"csrf_token": csrf_of(html), "event": "acknowledge", "note": "Recibida, en curso",
                                    "language": "es"}) as r:
                assert r.status == 303 and "sent=acknowledge" in r.headers["Location"], r.headers["Location"]
            async with s.get(f"{mex_base}{r.headers['Location']}") as r:
                said = await r.text()
            assert 'class="flash ok" role="status" data-event="acknowledge">Enviado: acuse de recibo de la solicitud. ' in said
            async with s.post(f"{mex_base}/console/mla/{rid}/events", allow_redirects=False,
                              data={"csrf_token": csrf_of(html), "event": "start", "note": "x", "language": "qq"}) as r:
                assert "error=unknown_language" in r.headers["Location"]
        async with focal(mex) as mex_api:
            status, answer = await drive(mex_api, rid, "start", note="n", language="QQ")
            assert (status, answer["error"]) == (400, "unknown_language")
            assert (await drive(mex_api, rid, "start", note="Ejecución iniciada sin idioma"))[0] == 202  # none stated
        await eventually(lambda: state_of(ita, rid) == "in_progress", what="both answers at ITA")
        async with client() as s:  # ITA's focal point reads in French
            s.cookie_jar.update_cookies({"somex_lang": "fr"})
            assert (await log_in(s, ita_base, ita.creds.tokens["focal"])).status == 303
            async with s.get(f"{ita_base}/console/mla/{rid}") as r:
                page = await r.text()
    finally:
        await mex_server.close()
        await ita_server.close()
    acknowledged = page[page.index('data-event="acknowledge"'):]
    assert 'lang="es"' in acknowledged.split("</li>")[0] and "Recibida, en curso" in acknowledged.split("</li>")[0]
    assert "espagnol" in acknowledged.split("</li>")[0]
    started = page[page.index('data-event="start"'):].split("</li>")[0]
    assert "Ejecución iniciada sin idioma" in started and "langue non indiquée" in started.lower()
