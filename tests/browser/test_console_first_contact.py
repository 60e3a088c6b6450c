"""The consoles as a focal point meets them first (issue 21), in a real Chromium: the requesting
State reads the answer to its MLA request (note, attachment) on the request's page; the inbox
reads as a list for people (subjects, country names, receipts folded into their message,
markers, filters that explain themselves); two consoles on one host stay logged in side by side.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from nodes.national.features.mla.authority import Upload
from nodes.plumbing.console import cookie_name
from tests.browser.conftest import Consoles, screenshot
from tests.integration.federation import eventually

pytestmark = pytest.mark.integration

ORDER = b"Accounts MX-0042 frozen on 2026-11-23 by order 17/2026 of the Juzgado Federal\n"


async def _request(consoles: Consoles, reference: str) -> str:
    """ITA asks MEX for assistance (through the same call as the console's compose form)."""
    created = consoles.fed.nodes["ITA"].mla.create({
        "requested": "MEX", "reference": reference, "kind": "mutual_legal_assistance",
        "legal_basis": ["untoc_article_18"], "offences": ["art6_1_a_smuggling"], "measures": ["freezing"],
        "urgency": "routine", "summary": "Freeze the proceeds paid into account MX-0042.", "language": "en",
        "measure_details": {"freezing": {"assets": "the balance of account MX-0042"}}},
        [Upload("bank-records.csv", "text/csv", b"date,account,amount\n2026-10-02,MX-0042,48000.00\n")])
    await eventually(lambda: any(r["id"] == created["id"] for r in consoles.fed.nodes["MEX"].mla.list()),
                     what="the request at MEX")
    return created["id"]


async def _act(page: Page, event: str, note: str | None = None) -> None:
    if note is not None:
        await page.fill("#note", note)
    await page.click(f'button[name=event][value={event}]')
    await expect(page.locator(".flash.ok")).to_have_attribute("data-event", event)
    await expect(page.locator(".flash.ok")).to_contain_text("Sent: ")


async def test_the_requesting_state_sees_every_answer_note_and_attachment(consoles: Consoles, new_page,
                                                                          tmp_path) -> None:  # noqa: ANN001
    request_id = await _request(consoles, "ITA-PA-2026-117")
    mex, ita = await new_page(), await new_page()
    await consoles.log_in(mex, "MEX", "focal")
    await consoles.log_in(ita, "ITA", "focal")
    await ita.goto(f"{consoles.urls['ITA']}/console/mla/{request_id}")
    await ita.wait_for_selector("body.live")
    await expect(ita.locator("#no-answers")).to_be_visible()

    # MEX answers from its console: a note typed with the acknowledgement, then the execution with
    # the freezing order attached.
    await mex.goto(f"{consoles.urls['MEX']}/console/mla/{request_id}")
    await _act(mex, "acknowledge", "Received; the prosecutor in charge is Lic. Ramos.")
    await _act(mex, "start")
    order = tmp_path / "freezing-order.txt"
    order.write_bytes(ORDER)
    await mex.fill("#note", "Two accounts traced, one frozen; the order is attached.")
    await mex.set_input_files("#act-attachment", str(order))
    await mex.click("button[name=event][value=execute]")
    await expect(mex.locator("#status")).to_have_text("executed")

    # ITA's open page shows each answer live: who, what, the notes, the attachment.
    executed = ita.locator('#answers li[data-event="execute"][data-sender="MEX"]')
    await expect(executed).to_contain_text("Mexico executed the request", timeout=20_000)
    await expect(executed.locator("blockquote.note")).to_have_text("Two accounts traced, one frozen; the order is attached.")
    await expect(ita.locator('#answers li[data-event="acknowledge"] blockquote.note')).to_have_text(
        "Received; the prosecutor in charge is Lic. Ramos.")
    await expect(ita.locator("#status")).to_have_text("executed")
    link = executed.locator("ul.attachments a")
    await expect(link).to_have_text("freezing-order.txt")
    async with ita.expect_download() as download:
        await link.click()
    saved = tmp_path / "downloaded"
    await (await download.value).save_as(saved)
    assert saved.read_bytes() == ORDER  # served only after its SHA-256 was checked
    await screenshot(ita, "node-mla-answer-seen-by-requesting-state")

    # MEX's own page reads from MEX's side: the request arrived from Italy; our answers are "we".
    await mex.goto(f"{consoles.urls['MEX']}/console/mla/{request_id}")
    timeline = mex.locator("ol.timeline")
    await expect(timeline.locator('li[data-what="receive"]')).to_contain_text("The request from Italy arrived")
    await expect(timeline.locator('li[data-what="execute"]')).to_contain_text("We executed the request")
    assert "by ITA" not in await timeline.text_content()
    await expect(mex.locator('#answers li[data-event="execute"]')).to_contain_text("We executed the request")
    await expect(mex.locator('#answers li[data-event="execute"] ul.attachments a')).to_have_text("freezing-order.txt")


async def test_the_inbox_reads_as_a_list_for_people(consoles: Consoles, new_page) -> None:  # noqa: ANN001
    ita_node = consoles.fed.nodes["ITA"]
    note = await ita_node.send("note", ["MEX"], body={"text": "Vessel Aurora left Trapani at 04:10 with 31 people "
                                                              "aboard, heading south-west; please alert your coast guard"})
    request_id = await _request(consoles, "ITA-PA-2026-200")
    page = await new_page()
    await consoles.log_in(page, "MEX", "focal")
    await page.goto(f"{consoles.urls['MEX']}/console/inbox")
    request_row = page.locator(f'tr[data-message-id="{request_id}"]')
    note_row = page.locator(f'tr[data-message-id="{note.id}"]')
    await expect(request_row.locator("td.subject")).to_have_text("MLA request ITA-PA-2026-200 (mutual legal assistance)")
    await expect(note_row.locator("td.subject")).to_contain_text("Note: “Vessel Aurora left Trapani at 04:10")
    await expect(note_row.locator("td.country")).to_have_text("Italy")
    # Unread and waiting for this focal point: the request is both; the note is only unread.
    assert set((await request_row.get_attribute("class")).split()) == {"unread", "action"}
    assert (await note_row.get_attribute("class")).split() == ["unread"]
    # Our delivered receipt is folded into the message it confirms, with its time; no receipt rows.
    await expect(request_row.locator('td.receipts .receipt[data-kind="delivered"]')).to_contain_text(
        re.compile(r"delivered ✓ \d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC"))  # en_GB: 23 Nov 2026, 14:05
    assert await page.locator('tr[data-type="receipt"]').count() == 0
    text = await page.text_content("#messages")
    assert not re.search(r"\d\d:\d\d:\d\d\.\d{6}", text), "microsecond timestamps as primary content"
    assert request_id not in text and note.id not in text, "UUIDs as primary content"
    await screenshot(page, "node-inbox-for-people")

    # Opening the request sends ITA the retrieved receipt: both sides show it folded in.
    await page.goto(f"{consoles.urls['MEX']}/console/mla/{request_id}")
    await page.goto(f"{consoles.urls['MEX']}/console/inbox")
    await expect(request_row.locator('.receipt[data-kind="retrieved"]')).to_contain_text("retrieved ✓")
    assert "unread" not in (await request_row.get_attribute("class")).split()
    sender = await new_page()
    await consoles.log_in(sender, "ITA", "focal")
    await sender.goto(f"{consoles.urls['ITA']}/console/sent")
    sent_row = sender.locator(f'tr[data-message-id="{request_id}"]')
    await expect(sent_row.locator('.receipt[data-kind="retrieved"][data-by="MEX"]')).to_contain_text(
        "retrieved ✓", timeout=20_000)
    await expect(sent_row.locator('.receipt[data-kind="delivered"][data-by="MEX"]')).to_contain_text("delivered ✓")
    await expect(sent_row.locator("td.country")).to_have_text("Mexico")
    await sender.goto(f"{consoles.urls['ITA']}/console/inbox")
    assert await sender.locator('tr[data-type="receipt"]').count() == 0

    # Filters: country codes in any case; a bad value is a form error naming the format.
    await page.goto(f"{consoles.urls['MEX']}/console/inbox?country=ita")
    await expect(note_row).to_be_visible()
    for query, expected in (("country=XXX", "three-letter code of a member"),
                            ("since=yesterday", "since: a date like 2026-11-23"),
                            ("until=23.11.2026", "until: a date like 2026-11-23"),
                            ("type=notes", "type: one of")):
        response = await page.goto(f"{consoles.urls['MEX']}/console/inbox?{query}")
        assert response.status == 400, query
        await expect(page.locator("#filter-error")).to_contain_text(expected)
        assert "No messages." not in await page.text_content("main"), query


async def test_two_consoles_on_one_host_stay_logged_in_side_by_side(consoles: Consoles, chromium) -> None:  # noqa: ANN001
    """One browser (one cookie jar) logged in to MEX's and ITA's consoles, both on 127.0.0.1."""
    context = await chromium.new_context(viewport={"width": 1280, "height": 860})
    try:
        mex, ita = await context.new_page(), await context.new_page()
        await consoles.log_in(mex, "MEX", "focal")
        await consoles.log_in(ita, "ITA", "focal")  # before issue 21 this replaced MEX's session cookie
        for page, country in ((mex, "MEX"), (ita, "ITA"), (mex, "MEX")):
            response = await page.goto(f"{consoles.urls[country]}/console/inbox")
            assert response.status == 200 and page.url.endswith("/console/inbox"), f"{country}: logged out"
            await expect(page.locator("header .brand")).to_have_text(f"somex · {country}")
        names = {c["name"] for c in await context.cookies()}
        assert {cookie_name("MEX"), cookie_name("ITA")} <= names
        # Logging out of one leaves the other logged in.
        await ita.click("header .logout button")
        await ita.wait_for_url("**/console/login")
        response = await mex.goto(f"{consoles.urls['MEX']}/console/")
        assert response.status == 200 and mex.url.endswith("/console/")
    finally:
        await context.close()


async def test_a_hub_rejection_is_explained_in_words(consoles: Consoles, new_page) -> None:  # noqa: ANN001
    """MEX's broker account publishes a note claiming IDN as sender; the hub tells MEX, whose inbox
    and message page explain the reason in a sentence instead of a JSON body."""
    from protocol import envelope as wire

    fed = consoles.fed
    forged = fed.nodes["IDN"].build("note", ["ITA"], body={"text": "claims IDN"})
    await fed.publish_raw("MEX", wire.encode(forged))
    rejection = await eventually(lambda: next((m for m in fed.inbox("MEX", type="hub.rejection")
                                               if (m.body or {}).get("of") == forged.id), None),
                                 what="the hub's rejection at MEX")
    page = await new_page()
    await consoles.log_in(page, "MEX", "focal")
    await page.goto(f"{consoles.urls['MEX']}/console/inbox?type=hub.rejection")
    row = page.locator(f'tr[data-message-id="{rejection.message_id}"]')
    await expect(row.locator("td.subject")).to_contain_text(
        "The hub rejected our note: The broker account that sent it does not belong to the country named as sender.")
    assert set((await row.get_attribute("class")).split()) == {"unread", "action"}
    await row.locator("td.subject a").click()
    await expect(page.locator("#rejection")).to_contain_text("does not belong to the country named as sender")
    await expect(page.locator("#rejection")).to_contain_text("sender_mismatch")
    content = await page.text_content("main")
    assert "\\u0027" not in content and '{"' not in content, "a JSON dump"
