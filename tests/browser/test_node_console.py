"""The focal point's console in a real Chromium: MLA requests end to end between two nodes, the
inbox, the health page and a received case."""

from __future__ import annotations

import asyncio

import pytest
from babel.dates import format_date
from playwright.async_api import expect
from sqlalchemy import select

from nodes.national.features.cases import store as cases
from tests.browser.conftest import Consoles, screenshot
from tests.integration.federation import eventually

pytestmark = pytest.mark.integration


async def _compose(page, base: str, reference: str, *, urgency: str = "routine") -> None:  # noqa: ANN001
    await page.goto(f"{base}/console/mla/new")
    await page.select_option("#to", "IDN")
    await page.select_option("#kind", "mutual_legal_assistance")
    await page.fill("#reference", reference)
    await page.select_option("#legal_basis", "untoc_article_18")
    await page.select_option("#offence", "art6_1_a_smuggling")
    await page.select_option("#measure", ["evidence_taking", "witness_hearing"])
    # The guided steps of the two measures' templates (issue 17 part 2).
    await page.fill("#detail-evidence_taking-evidence", "the crew's phone records, 1-3 November")
    await page.fill("#detail-witness_hearing-person", "the harbour master of Lampedusa")
    await page.fill("#detail-witness_hearing-questions", "Who met the boat? At what time?")
    await page.select_option("#urgency", urgency)
    await page.fill("#summary", "Boat landing at Lampedusa; we ask for the crew's phone records.")


async def test_mla_request_from_compose_to_acknowledgement(consoles: Consoles, new_page) -> None:  # noqa: ANN001
    mex, idn = await new_page(), await new_page()
    await consoles.log_in(mex, "MEX", "focal")
    await consoles.log_in(idn, "IDN", "focal")
    await idn.goto(f"{consoles.urls['IDN']}/console/mla")
    await idn.wait_for_selector("body.live")

    await _compose(mex, consoles.urls["MEX"], "MEX-2026-017")
    await mex.set_input_files("#attachment", [
        {"name": "phone-records.csv", "mimeType": "text/csv", "buffer": b"number,calls\n+52155,3\n"}])
    await screenshot(mex, "node-mla-compose")
    await mex.click("#send")
    await mex.wait_for_url("**/console/mla/*-*")
    request_id = mex.url.rsplit("/", 1)[-1]
    assert await mex.text_content("#status") in ("submitted", "received")
    assert "phone-records.csv" in await mex.text_content("#attachments")
    # IDN has published no competent-authority profile: sent, with a visible warning (issue 17 part 2).
    assert await mex.locator("#no-profile").is_visible()

    # The requested State's list shows the request without a reload.
    row = idn.locator(f'tr[data-request-id="{request_id}"]')
    await row.wait_for()
    assert await row.locator(".status").text_content() == "received"
    await screenshot(idn, "node-mla-list")

    await idn.click(f'tr[data-request-id="{request_id}"] a')
    assert await idn.text_content("#status") == "received"
    async with idn.expect_download() as download:
        await idn.click("#attachments a")
    assert (await download.value).suggested_filename == "phone-records.csv"
    with open(await (await download.value).path(), "rb") as file:
        assert file.read() == b"number,calls\n+52155,3\n"
    await mex.wait_for_selector("body.live")
    await idn.click("button[name=event][value=acknowledge]")
    await idn.wait_for_selector(".flash.ok")
    assert await idn.text_content("#status") == "acknowledged"
    assert await idn.locator("button[name=event][value=acknowledge]").count() == 0
    assert await idn.locator("button[name=event][value=start]").count() == 1

    # A refusal without grounds is refused with the reason, and nothing changes.
    await idn.click("button[name=event][value=refuse]")
    assert "refusal_grounds" in await idn.text_content(".flash.error")
    assert await idn.text_content("#status") == "acknowledged"

    # The requesting State sees it change live, with the retrieval in the timeline.
    await expect(mex.locator("#status")).to_have_text("acknowledged")
    retrieved = mex.locator('ol.timeline li[data-what="receipt.retrieved"][data-by="IDN"]')
    await expect(retrieved).to_contain_text("Indonesia opened the request")  # in words, from MEX's side
    await screenshot(mex, "node-mla-request")
    # The requesting State cannot acknowledge its own request: no such button.
    assert await mex.locator("button[name=event][value=acknowledge]").count() == 0


async def test_a_refused_request_shows_the_reason_and_keeps_the_values(consoles: Consoles, new_page) -> None:  # noqa: ANN001
    page = await new_page()
    await consoles.log_in(page, "MEX", "focal")
    await _compose(page, consoles.urls["MEX"], "MEX-2026-018", urgency="urgent")  # urgent without a reason
    await page.click("#send")
    error = page.locator(".flash.error")
    await error.wait_for()
    assert "urgency_without_reason" in await error.text_content()
    assert await page.input_value("#reference") == "MEX-2026-018"
    assert await page.input_value("#urgency") == "urgent"
    assert await page.eval_on_selector("#measure", "s => [...s.selectedOptions].map(o => o.value)") == [
        "evidence_taking", "witness_hearing"]
    assert "Lampedusa" in await page.input_value("#summary")


async def test_inbox_shows_an_arriving_note_live_and_unread_until_opened(consoles: Consoles, new_page) -> None:  # noqa: ANN001
    page = await new_page()
    await consoles.log_in(page, "MEX", "focal")
    await page.goto(f"{consoles.urls['MEX']}/console/inbox?type=note&country=ITA")
    await page.wait_for_selector("body.live")
    note = await consoles.fed.nodes["ITA"].send("note", ["MEX"], body={"text": "Vessel Aurora left Trapani"})
    row = page.locator(f'tr[data-message-id="{note.id}"]')
    await row.wait_for()
    assert await row.get_attribute("class") == "unread"
    await screenshot(page, "node-inbox")

    await row.locator("a").click()
    assert "Vessel Aurora left Trapani" in await page.text_content("#body")
    await page.go_back()
    await page.reload()
    assert await page.locator(f'tr[data-message-id="{note.id}"]').get_attribute("class") is None

    # The sender's Sent page lists it, to MEX.
    sender = await new_page()
    await consoles.log_in(sender, "ITA", "focal")
    await sender.goto(f"{consoles.urls['ITA']}/console/sent?country=MEX")
    assert "Mexico" in await sender.locator(f'tr[data-message-id="{note.id}"] td.country').text_content()

    # The filters apply: the same note is not shown as coming from IDN, and a bad date is explained.
    await page.goto(f"{consoles.urls['MEX']}/console/inbox?type=note&country=IDN")
    assert await page.locator(f'tr[data-message-id="{note.id}"]').count() == 0
    await page.goto(f"{consoles.urls['MEX']}/console/inbox?since=yesterday")
    assert "since: a date like 2026-11-23" in await page.text_content(".flash.error")


async def test_health_shows_the_signing_certificate_and_links_to_the_work(consoles: Consoles, new_page) -> None:  # noqa: ANN001
    page = await new_page()
    await consoles.log_in(page, "MEX", "focal")
    await page.goto(f"{consoles.urls['MEX']}/console/")
    not_after = consoles.fed.nodes["MEX"].creds.certificate.not_valid_after_utc
    certificate = page.locator("#certificate")
    assert f"valid until {format_date(not_after, 'medium', locale='en_GB')}, {not_after:%H:%M} UTC" \
        in await certificate.text_content()  # the console's English dates (docs/i18n.md)
    assert await page.locator("main a[href='/console/mla/new']").count() == 1
    assert [await a.text_content() for a in await page.locator("header nav a").all()] == [
        "Health", "Inbox", "Sent", "MLA", "Cases", "Alerts", "Border check", "Profiles"]
    await screenshot(page, "node-health")


async def test_a_received_case_shows_its_handling_banner_and_the_reading_is_logged(consoles: Consoles, new_page) -> None:  # noqa: ANN001
    idn, mex = consoles.fed.nodes["IDN"], consoles.fed.nodes["MEX"]
    own = await asyncio.to_thread(cases.create_case, idn.contexts["cases"], {
        "reference": "IDN-2026-0042", "title": "Kupang boat", "offences": [{"article": "6.1.a"}],
        "evaluation": {"source": "B", "information": 2},
        "persons": [{"role": "suspected", "name": "SANTOSO, Budi", "legal_basis": "art. 10"}]})
    await asyncio.to_thread(cases.share_case, idn.contexts["cases"], own, ["MEX"], {
        "code": "H3", "retention_days": 90, "condition": "not to be passed to immigration authorities"})
    held = await eventually(lambda: [c for c in cases.list_cases(mex.contexts["cases"]) if c["reference"] == "IDN-2026-0042"],
                            what="the shared case at MEX")

    page = await new_page()
    await consoles.log_in(page, "MEX", "focal")
    await page.goto(f"{consoles.urls['MEX']}/console/cases")
    await page.click(f'tr[data-case-id="{held[0]["id"]}"] a')
    banner = page.locator(".banner.H3")
    assert "not to be passed to immigration authorities" in await banner.text_content()
    assert "SANTOSO, Budi" in await page.text_content("#persons")
    await screenshot(page, "node-case")
    with mex.store.engine.connect() as conn:
        who = conn.execute(select(cases.access_log.c.who).where(
            cases.access_log.c.case_id == held[0]["id"])).scalars().all()
    assert who == ["console:focal"]
