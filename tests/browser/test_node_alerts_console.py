"""The focal point's alert pages in a real Chromium: a feed file pushed at MEX with some bad lines
(live progress to 100 %, the error report naming exactly those lines), its alerts arriving at IDN,
IDN's checks (a hit, unmistakable, and a no-hit), and the hit on MEX's hits page; then the errors
a focal point can make, each explained on the page."""

from __future__ import annotations

import asyncio
import json
import re
import threading

import pytest
from playwright.async_api import expect

from nodes.national.features.alerts import console as console_alerts, feeds
from nodes.national.features.alerts.replica import check_many, received_hits
from nodes.national.features.alerts.api import check_document
from tests.browser.conftest import Consoles, screenshot
from tests.integration.federation import eventually

pytestmark = pytest.mark.integration


def alert(issuer: str, number: str, status: str = "stolen", **more: str) -> dict:
    return {"document_number": number, "document_type": "passport", "issuing_country": issuer, "status": status,
            "action": "create", "reported": "2026-11-20", **more}


def feed_with_bad_lines() -> tuple[bytes, dict[int, str]]:
    """Twelve NDJSON lines of MEX alerts; four are bad, each in its own way (line number -> reason)."""
    lines = [json.dumps(alert("MEX", f"MX 000-{i:04d}", event_date="2026-11-18", national_reference=f"SRE-{i}"))
             for i in range(1, 13)]
    bad = {3: ("{not json", "malformed_json"),
           5: (json.dumps({**alert("MEX", "MX0000005"), "colour": "red"}), "unknown_field"),
           8: (json.dumps(alert("IDN", "B0000008")), "not_issuing_country"),
           11: (json.dumps({k: v for k, v in alert("MEX", "MX0000011").items() if k != "reported"}),
                "missing_field")}
    for line, (text, _) in bad.items():
        lines[line - 1] = text
    return ("\n".join(lines) + "\n").encode(), {line: reason for line, (_, reason) in bad.items()}


async def test_feed_progress_error_report_check_and_hit_across_two_countries(consoles: Consoles, new_page,  # noqa: ANN001
                                                                             monkeypatch) -> None:  # noqa: ANN001
    mex_node = consoles.fed.nodes["MEX"]
    feed, bad = feed_with_bad_lines()
    # The feed is read in blocks of about 1 KiB, and held after its first block until the test lets
    # it go: the page is seen part way, then reaching the end by itself.
    monkeypatch.setattr(feeds, "READ_BYTES", 1024)
    monkeypatch.setattr(console_alerts, "_CHUNK", 512)
    gate, take = threading.Event(), feeds.FeedIntake.take

    def held(intake: feeds.FeedIntake, lines: list[bytes], size: int) -> None:
        take(intake, lines, size)
        gate.wait(30)

    monkeypatch.setattr(feeds.FeedIntake, "take", held)
    mex = await new_page()
    await consoles.log_in(mex, "MEX", "focal")
    await mex.goto(f"{consoles.urls['MEX']}/console/")
    await mex.click("header nav a:text('Alerts')")
    await mex.click("nav.tabs a:text('Feeds')")
    await mex.set_input_files("#feed", {"name": "mex-stolen-2026-11.ndjson", "mimeType": "application/x-ndjson",
                                        "buffer": feed})
    await mex.click("#push")
    await mex.wait_for_url("**/console/alerts/feeds/*-*")
    job_id = mex.url.rsplit("/", 1)[-1]
    reloads: list[str] = []
    mex.on("framenavigated", lambda frame: reloads.append(frame.url) if frame == mex.main_frame else None)

    # Part way: running, some lines of twelve read.
    await expect(mex.locator("#feed-lines")).to_have_text(re.compile(r"^([1-9]|1[01]) / 12$"))
    assert await mex.text_content("#feed-status") == "running"
    assert 0 < int((await mex.text_content("#feed-percent")).rstrip("%")) < 100
    assert await mex.locator("#feed-errors").count() == 0  # the report comes at the end
    gate.set()

    # The bar follows the job to its end without a reload; then the report names exactly the bad lines.
    await expect(mex.locator("#feed-percent")).to_have_text("100%", timeout=15_000)
    await expect(mex.locator("#feed-status")).to_have_text("done")
    await expect(mex.locator("#feed-lines")).to_have_text("12 / 12")
    assert await mex.get_attribute("#feed-progress", "value") == await mex.get_attribute("#feed-progress", "max")
    rows = mex.locator("#feed-errors tbody tr")
    assert [int(await r.get_attribute("data-line")) for r in await rows.all()] == sorted(bad)
    for line, reason in bad.items():
        row = mex.locator(f'#feed-errors tr[data-line="{line}"]')
        assert await row.locator(".reason").text_content() == reason
        assert (await row.locator("td").nth(3).text_content()).strip()  # an explanation, not just a code
    assert "8 accepted" in await mex.text_content("#feed-counts")
    assert reloads == []
    await screenshot(mex, "node-alerts-feed")

    # The list of feeds shows it, with its file name and status.
    await mex.click("nav.tabs a:text('Feeds')")
    listed = mex.locator(f'#feeds tr[data-job-id="{job_id}"]')
    assert "mex-stolen-2026-11.ndjson" in await listed.text_content()
    assert await listed.locator(".status").text_content() == "done"

    # The alerts arrive at IDN: its inbox shows MEX's signed batch.
    [batch] = mex_node.store.list(direction="out", type="alert.document.batch", limit=10)
    # the inbox page lists what IDN holds when it loads: the batch first reaches IDN (a slow machine)
    await eventually(lambda: consoles.fed.nodes["IDN"].store.get(batch.message_id), what="the batch at IDN")
    idn = await new_page()
    await consoles.log_in(idn, "IDN", "focal")
    await idn.goto(f"{consoles.urls['IDN']}/console/inbox?type=alert.document.batch&country=MEX")
    await idn.locator(f'tr[data-message-id="{batch.message_id}"]').wait_for()

    # MEX's hits page is open while IDN checks.
    await mex.goto(f"{consoles.urls['MEX']}/console/alerts/hits")
    await mex.wait_for_selector("body.live")
    assert await mex.locator("#hits tr[data-hit-id]").count() == 0

    # An alerted passport, typed as the officer reads it: a hit, with the alert's details.
    await idn.click("header nav a:text('Alerts')")
    await idn.select_option("#country", "MEX")
    await idn.select_option("#type", "passport")
    await idn.fill("#number", "mx 000 0001")
    await idn.fill("#point", "Soekarno-Hatta T3")
    await idn.click("#check-document")
    hit = idn.locator("#result.hit")
    await expect(hit).to_be_visible()
    assert "HIT" in await hit.locator("h2").text_content()
    assert await idn.text_content("#alert-country") == "MEX"
    assert await idn.text_content("#alert-status") == "stolen"
    assert await idn.text_content("#alert-number") == "MX 000-0001"  # as MEX wrote it
    assert "SRE-1" in await hit.text_content()
    report_id = (await idn.text_content("#hit-report a")).strip()
    await screenshot(idn, "node-alerts-check")
    # Recorded as the API records it: an alert.hit queued to MEX alone.
    [sent_hit] = [m for m in consoles.fed.nodes["IDN"].store.list(direction="out", type="alert.hit", limit=10)
                  if m.message_id == report_id]
    assert sent_hit.recipients == ["MEX"]

    # A passport nobody alerted, and one of the bad lines (never sent): no hit.
    for number in ("MX0000099", "MX0000005"):
        await idn.fill("#number", number)
        await idn.click("#check-document")
        await expect(idn.locator("#result.clear #checked-number")).to_have_text(number)
        assert await idn.text_content("#result.clear h2") == "No hit"
        assert await idn.locator("#result.hit").count() == 0

    # MEX sees the hit arrive on its hits page, as its API lists it.
    row = mex.locator(f'#hits tr[data-hit-id="{report_id}"]')
    await row.wait_for()
    assert await row.locator(".checker").text_content() == "IDN"
    assert await row.locator(".number").text_content() == "MX0000001"
    assert "Soekarno-Hatta T3" in await row.text_content()
    await screenshot(mex, "node-alerts-hits")
    api_hits = await asyncio.to_thread(received_hits, mex_node.store.engine)
    assert [h["message_id"] for h in api_hits] == [report_id]


async def test_each_mistake_is_explained_on_the_page(consoles: Consoles, new_page, monkeypatch) -> None:  # noqa: ANN001
    base = consoles.urls["ITA"]
    page = await new_page()
    await consoles.log_in(page, "ITA", "focal")
    before = len(consoles.fed.nodes["ITA"].store.list(direction="out", type="alert.document.batch", limit=10))

    async def push(name: str, content: bytes) -> None:
        await page.goto(f"{base}/console/alerts/feeds")
        await page.set_input_files("#feed", {"name": name, "mimeType": "application/octet-stream", "buffer": content})
        await page.click("#push")

    await push("alerts.xlsx", b"PK\x03\x04")
    await expect(page.locator(".flash.error")).to_contain_text("bad_file_type")
    await push("alerts.csv", "document_number,status\n".encode("utf-16"))
    await expect(page.locator(".flash.error")).to_contain_text("not_text")
    await push("alerts.csv", b"")
    await expect(page.locator(".flash.error")).to_contain_text("empty_file")
    monkeypatch.setattr(console_alerts, "MAX_UPLOAD_BYTES", 1000)
    await push("alerts.ndjson", (json.dumps(alert("ITA", "YA0000001")) + "\n").encode() * 40)
    await expect(page.locator(".flash.error")).to_contain_text("too_large")
    monkeypatch.undo()
    assert await page.locator("#feeds tr[data-job-id]").count() == 0  # none of these started a job

    # A CSV whose header names no alert fields: the job stops at once, and says why.
    await push("alerts.csv", b"passport,colour\nYA1,red\n")
    await page.wait_for_url("**/console/alerts/feeds/*-*")
    await expect(page.locator("#feed-status")).to_have_text("failed")
    await expect(page.locator(".flash.error")).to_contain_text("bad_csv_header")
    assert len(consoles.fed.nodes["ITA"].store.list(direction="out", type="alert.document.batch",
                                                    limit=10)) == before

    # A document number that is only separators: refused with the field named, the values kept.
    await page.goto(f"{base}/console/alerts")
    await page.select_option("#country", "MEX")
    await page.select_option("#type", "identity_card")
    await page.fill("#number", "-- / --")
    await page.click("#check-document")
    await expect(page.locator(".flash.error")).to_contain_text("number: the document number")
    assert await page.input_value("#country") == "MEX" and await page.input_value("#type") == "identity_card"
    assert await page.locator("#result").count() == 0

    # Bad addresses get an explained error page.
    await page.goto(f"{base}/console/alerts/hits?offset=ten")
    assert "offset is a whole number" in await page.text_content(".flash.error")
    await page.goto(f"{base}/console/alerts/feeds/no-such-job")
    assert "no feed job" in await page.text_content(".flash.error")


async def test_hits_page_pages_newest_first(consoles: Consoles, new_page) -> None:  # noqa: ANN001
    """More hits than a page: the newest first, older ones one click on."""
    ita, mex = consoles.fed.nodes["ITA"], consoles.fed.nodes["MEX"]
    await ita.send("alert.document.batch", ["*"], body={"alerts": [alert("ITA", f"YA{i:07d}") for i in range(3)]})
    await eventually(lambda: check_many(mex.store.engine, [("ITA", "passport", "YA0000002")], "2026-11-23")[0].alert,
                     what="ITA's alerts at MEX")
    page = console_alerts.HITS_PAGE
    try:
        console_alerts.HITS_PAGE = 2
        for i in range(3):
            await check_document(mex.contexts["alerts"], "ITA", "passport", f"YA{i:07d}", "police", f"check {i}")
        await eventually(lambda: len(received_hits(ita.store.engine)) == 3, what="three hits at ITA")
        browser = await new_page()
        await consoles.log_in(browser, "ITA", "focal")
        await browser.goto(f"{consoles.urls['ITA']}/console/alerts/hits")
        first = [await r.locator(".number").text_content() for r in await browser.locator("#hits tr[data-hit-id]").all()]
        await browser.click("#older")
        second = [await r.locator(".number").text_content() for r in await browser.locator("#hits tr[data-hit-id]").all()]
        assert await browser.locator("#older").count() == 0 and await browser.locator("#newer").count() == 1
    finally:
        console_alerts.HITS_PAGE = page
    newest_first = [h["document_number"] for h in received_hits(ita.store.engine)]
    assert first + second == newest_first and sorted(newest_first) == ["YA0000000", "YA0000001", "YA0000002"]
