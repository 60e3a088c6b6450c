"""The focal point's case pages in a real Chromium, between three nodes: sharing under the
handling codes (a refused H2 onward share, the provider's permission, the share that then
passes), withdrawal, a joint investigation whose messages arrive live, and the search."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from nodes.national.features.cases import store as cases
from tests.browser.conftest import Consoles, screenshot
from tests.integration.federation import eventually

pytestmark = pytest.mark.integration


def _case(reference: str, **extra) -> dict:  # noqa: ANN003
    return {"reference": reference, "title": "Ionian crossing", "offences": [{"article": "6.1.a"}],
            "evaluation": {"source": "A", "information": 2},
            "persons": [{"role": "organiser", "name": "KOVAČ, Marko", "date_of_birth": "1981-03",
                         "legal_basis": "art. 10 Protocol"}], **extra}


def _held(node, reference: str, held_from: str) -> list:  # noqa: ANN001
    return [c for c in cases.list_cases(node.contexts["cases"]) if c["reference"] == reference and c["held_from"] == held_from]


async def _open_case(page, base: str, reference: str) -> None:  # noqa: ANN001
    await page.goto(f"{base}/console/cases")
    await page.click(f'tr[data-reference="{reference}"] a')
    await page.wait_for_selector("h1")


async def test_share_refused_by_h2_then_permitted_passed_on_and_withdrawn(consoles: Consoles, new_page) -> None:  # noqa: ANN001
    fed, urls = consoles.fed, consoles.urls
    reference = "MEX-2026-101"
    await asyncio.to_thread(cases.create_case, fed.nodes["MEX"].contexts["cases"], _case(reference))
    mex, idn, ita = await new_page(), await new_page(), await new_page()
    for page, country in ((mex, "MEX"), (idn, "IDN"), (ita, "ITA")):
        await consoles.log_in(page, country, "focal")
    await idn.goto(f"{urls['IDN']}/console/cases")
    await idn.wait_for_selector("body.live")

    await _open_case(mex, urls["MEX"], reference)
    await expect(mex.locator(".banner.own")).to_contain_text("your own case")
    # H3 without its condition: refused, explained, and the form keeps the chosen country.
    await mex.check("#share-to-IDN")
    await mex.select_option("#share-code", "H3")
    async with mex.expect_response(lambda r: r.request.method == "POST") as answer:
        await mex.click("#share-send")
    assert (await answer.value).status == 400
    error = mex.locator("#share .flash.error")
    await expect(error).to_contain_text("condition_required")
    await expect(error).to_contain_text("write it in the condition field")
    assert await mex.is_checked("#share-to-IDN")
    # H2 to IDN.
    await mex.select_option("#share-code", "H2")
    await mex.fill("#share-retention", "60")
    await mex.click("#share-send")
    await expect(mex.locator(".flash.ok")).to_have_text("shared with IDN under H2")
    await expect(mex.locator("#history")).to_contain_text("MEX shared it with IDN (H2, 60 days)")

    # IDN's list shows the case without a reload; its page is under the H2 banner.
    await idn.locator(f'tr[data-reference="{reference}"]').wait_for()
    await idn.click(f'tr[data-reference="{reference}"] a')
    await expect(idn.locator(".banner.H2")).to_contain_text("no onward transfer")
    await expect(idn.locator("#share-rule")).to_contain_text("none so far; ask MEX for permission")

    # Passing it on to ITA is refused by H2: no permission from MEX yet.
    await idn.check("#share-to-ITA")
    async with idn.expect_response(lambda r: r.request.method == "POST") as answer:
        await idn.click("#share-send")
    assert (await answer.value).status == 403
    error = idn.locator("#share .flash.error")
    await expect(error).to_contain_text("onward_transfer_not_permitted: H2: no permission from the provider on file "
                                        "for ITA")
    await expect(error).to_contain_text("Ask the provider for permission")
    await expect(idn.locator(".banner.H2")).to_be_visible()
    await screenshot(idn, "node-case-share")
    assert await asyncio.to_thread(_held, fed.nodes["ITA"], reference, "IDN") == []

    # MEX lets IDN pass it to ITA; IDN's page then says so and the share passes.
    await mex.select_option("#permission-recipient", "IDN")
    await mex.check("#permission-to-ITA")
    await mex.click("#permission-send")
    await expect(mex.locator(".flash.ok")).to_have_text("IDN may pass the case on to ITA")
    await expect(mex.locator("#history")).to_contain_text("MEX let IDN pass it on to ITA")
    case_at_idn = (await asyncio.to_thread(_held, fed.nodes["IDN"], reference, "MEX"))[0]["id"]
    await eventually(lambda: cases.permitted_targets(fed.nodes["IDN"].contexts["cases"], case_at_idn), what="the permission at IDN")
    await idn.goto(f"{urls['IDN']}/console/cases/{case_at_idn}")
    await expect(idn.locator("#share-rule")).to_contain_text("ITA")
    await idn.check("#share-to-ITA")
    await idn.click("#share-send")
    await expect(idn.locator(".flash.ok")).to_have_text("shared with ITA under H2")
    await expect(idn.locator("#history tr", has_text="IDN shared it with ITA (H2,")).to_have_count(1)
    await expect(idn.locator("#history")).to_contain_text("MEX let IDN pass it on to ITA")

    # ITA's console shows it, from MEX via IDN, still H2.
    await ita.goto(f"{urls['ITA']}/console/cases")
    await ita.wait_for_selector("body.live")
    await ita.locator(f'tr[data-reference="{reference}"]').wait_for()
    await ita.click(f'tr[data-reference="{reference}"] a')
    await expect(ita.locator(".banner.H2")).to_contain_text("from MEX via IDN")
    await expect(ita.locator("#persons")).to_contain_text("KOVAČ, Marko")
    # Everything held, as labelled fields (no JSON dump), names as written.
    await expect(ita.locator("#case-data dl.fields").first).to_contain_text("KOVAČ, Marko")
    assert await ita.locator("main pre").count() == 0
    await ita.goto(f"{urls['ITA']}/console/cases")
    await ita.wait_for_selector("body.live")

    # MEX withdraws it, after a confirmation: IDN's and ITA's copies go, ITA's list updates live.
    await mex.click("#withdraw-link")
    await expect(mex.locator("#withdraw-confirm")).to_have_text("Withdraw from IDN")
    await mex.fill("#withdraw-reason", "evaluation revised")
    await mex.click("#withdraw-confirm")
    await expect(mex.locator(".flash.ok")).to_contain_text("withdrawn from IDN")
    await expect(mex.locator("#history")).to_contain_text("MEX withdrew it from IDN")
    await expect(mex.locator("#shared-with")).to_have_text("Not shared with anyone now.")
    await screenshot(mex, "node-case-history")
    await expect(ita.locator(f'tr[data-reference="{reference}"]')).to_have_count(0)
    assert await asyncio.to_thread(_held, fed.nodes["IDN"], reference, "MEX") == []


async def test_a_case_recorded_in_the_console_gets_information_under_article_5(consoles: Consoles, new_page) -> None:  # noqa: ANN001
    reference = "MEX-2026-102"
    page = await new_page()
    await consoles.log_in(page, "MEX", "focal")
    await page.goto(f"{consoles.urls['MEX']}/console/cases")
    await page.click("#new-case")
    await page.fill("#case-reference", reference)
    await page.fill("#case-title", "Tijuana safe house")
    await page.select_option("#case-source", "B")
    await page.click("#case-send")  # no offence chosen: refused with the reason, values kept
    await expect(page.locator(".flash.error")).to_contain_text("bad_body")
    await expect(page.locator("#case-reference")).to_have_value(reference)
    await page.select_option("#case-offence", ["6.1.a", "6.2.c"])
    await page.click("#case-send")
    await expect(page.locator(".flash.ok")).to_have_text("case recorded")
    await expect(page.locator("h1")).to_have_text(f"Case {reference}")
    await expect(page.locator(".banner.own")).to_be_visible()
    # A smuggled migrant as a suspect is refused (Protocol article 5), with the values kept.
    await page.fill("#info-person-name", "TESFAYE, Abel")
    await page.select_option("#info-person-role", "facilitator")
    await page.fill("#info-person-legal-basis", "art. 10")
    await page.check("#info-person-migrant")
    await page.click("#info-send")
    error = page.locator("#information .flash.error")
    await expect(error).to_contain_text("smuggled_migrant_as_suspect")
    await expect(page.locator("#info-person-name")).to_have_value("TESFAYE, Abel")
    await page.select_option("#info-person-role", "witness")
    await page.check("#info-person-migrant")
    await page.click("#info-send")
    await expect(page.locator(".flash.ok")).to_have_text("information added")
    await expect(page.locator("#persons")).to_contain_text("TESFAYE, Abel")
    await expect(page.locator("#persons")).to_contain_text("witness (smuggled migrant)")


async def test_joint_investigation_messages_arrive_live(consoles: Consoles, new_page) -> None:  # noqa: ANN001
    fed, urls = consoles.fed, consoles.urls
    mex, idn = await new_page(), await new_page()
    await consoles.log_in(mex, "MEX", "focal")
    await consoles.log_in(idn, "IDN", "focal")
    await idn.goto(f"{urls['IDN']}/console/cases/jits")
    await idn.wait_for_selector("body.live")

    # Opening needs members: refused with the reason first.
    await mex.goto(f"{urls['MEX']}/console/cases/jits")
    await mex.fill("#jit-title", "Aegean route")
    await mex.click("#jit-open-send")
    await expect(mex.locator("#jit-open .flash.error")).to_contain_text("no_recipients")
    await mex.check("#jit-member-IDN")
    await mex.click("#jit-open-send")
    await expect(mex.locator(".flash.ok")).to_have_text("joint investigation opened")
    await expect(mex.locator("#jit-members")).to_contain_text("IDN, MEX")
    await expect(mex.locator(".banner.none")).to_be_visible()
    thread = (await asyncio.to_thread(cases.list_jits, fed.nodes["MEX"].contexts["cases"]))[0]["thread"]

    # IDN's list shows it live; IDN opens it.
    row = idn.locator(f'tr[data-thread="{thread}"]')
    await row.wait_for()
    await row.locator("a").click()
    await idn.wait_for_selector("body.live")
    await mex.wait_for_selector("body.live")

    await mex.fill("#jit-text", "Vessel Aurora seen off Chios at 04:10.")
    await mex.click("#jit-send")
    await expect(mex.locator("#conversation li.mine .text")).to_have_text("Vessel Aurora seen off Chios at 04:10.")
    await expect(idn.locator('#conversation li[data-sender="MEX"] .text')).to_have_text(
        "Vessel Aurora seen off Chios at 04:10.")
    await idn.fill("#jit-text", "Our liaison officer boards at Piraeus.")
    await idn.click("#jit-send")
    await expect(mex.locator('#conversation li[data-sender="IDN"] .text')).to_have_text(
        "Our liaison officer boards at Piraeus.")
    await expect(idn.locator("#conversation li")).to_have_count(2)

    # A case shared into the thread shows there under its handling-code banner, live.
    reference = "MEX-2026-103"
    await asyncio.to_thread(cases.create_case, fed.nodes["MEX"].contexts["cases"], _case(reference))
    await _open_case(mex, urls["MEX"], reference)
    await mex.select_option("#share-jit", thread)
    await mex.select_option("#share-code", "H1")
    await mex.click("#share-send")
    await expect(mex.locator(".flash.ok")).to_have_text("shared with IDN under H1")
    await expect(mex.locator("#history")).to_contain_text("MEX shared it with IDN in a joint investigation (H1")
    await expect(idn.locator(f'.banner.H1[data-case-reference="{reference}"]')).to_contain_text(
        "Not to be used in judicial proceedings")
    await screenshot(idn, "node-jit-thread")

    # ITA is no member: the thread does not exist there, and it says so.
    ita = await new_page()
    await consoles.log_in(ita, "ITA", "focal")
    response = await ita.goto(f"{urls['ITA']}/console/cases/jits/{thread}")
    assert response.status == 404
    await expect(ita.locator(".flash.error")).to_contain_text("no joint investigation")


async def test_search_shows_hits_under_their_banner_and_logs_them(consoles: Consoles, new_page) -> None:  # noqa: ANN001
    idn, mex = consoles.fed.nodes["IDN"], consoles.fed.nodes["MEX"]
    reference = "IDN-2026-0201"
    own = await asyncio.to_thread(cases.create_case, idn.contexts["cases"], _case(reference))
    await asyncio.to_thread(cases.share_case, idn.contexts["cases"], own, ["MEX"], {"code": "H3", "retention_days": 30,
                                                                   "condition": "no use before the trial"})
    held = await eventually(lambda: _held(mex, reference, "IDN"), what="the case at MEX")
    page = await new_page()
    await consoles.log_in(page, "MEX", "focal")
    await page.goto(f"{consoles.urls['MEX']}/console/cases/search")
    await page.fill("#search-name", "marko kovac")
    await page.click("#search-send")
    hit = page.locator("#person-hits .hit", has=page.locator(f'[data-case-reference="{reference}"]'))
    await expect(hit.locator(".banner.H3")).to_contain_text("no use before the trial")
    await expect(hit).to_contain_text("KOVAČ, Marko")
    with mex.store.engine.connect() as conn:
        logged = conn.execute(select(cases.access_log.c.who, cases.access_log.c.action).where(
            cases.access_log.c.case_id == held[0]["id"])).all()
    assert ("console:focal", "search") in [tuple(r) for r in logged]

    # Passing an H3 case on needs the focal point's word that the condition allows it.
    await hit.locator("a").click()
    await expect(page.locator(".banner.H3")).to_contain_text("no use before the trial")
    await page.check("#share-to-ITA")
    await page.click("#share-send")
    error = page.locator("#share .flash.error")
    await expect(error).to_contain_text("condition_not_confirmed: H3: confirm that the provider's condition allows "
                                        "it: no use before the trial")
    await page.check("#share-confirm")
    await page.click("#share-send")
    await expect(page.locator(".flash.ok")).to_have_text("shared with ITA under H3")
