"""The consoles end to end, in Chromium, as people would use them.

ITA's focal point composes an MLA request with an attachment; MEX's focal point sees it appear
without reloading, opens it and acknowledges it; ITA's open page shows the new status without
reloading; an auditor opens the thread's sequence diagram at the hub and an entry's inclusion
proof, checked in the browser, shows verified.
"""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import Consoles, screenshot
from tests.integration.federation import eventually

pytestmark = pytest.mark.integration

REFERENCE = "ITA-E2E-1"
THREAD = f"mla:ITA:{REFERENCE}"


async def mark_page(page) -> None:  # noqa: ANN001
    """A marker that a reload or navigation would wipe: proves updates arrived live."""
    await page.evaluate("window.__noReload = true")


async def still_same_page(page) -> bool:  # noqa: ANN001
    return await page.evaluate("window.__noReload === true")


async def test_mla_request_travels_live_between_consoles_and_its_trail_verifies(
        consoles: Consoles, new_page, tmp_path) -> None:  # noqa: ANN001
    ita, mex, auditor = await new_page(), await new_page(), await new_page()
    await consoles.log_in(ita, "ITA", "focal")
    await consoles.log_in(mex, "MEX", "focal")

    # MEX's focal point is looking at the MLA list before anything arrives.
    await mex.goto(f"{consoles.urls['MEX']}/console/mla")
    await mex.wait_for_selector("body.live")  # its event stream is connected
    await mark_page(mex)

    # ITA composes the request with an attachment.
    evidence = tmp_path / "bank-records.pdf"
    evidence.write_bytes(b"%PDF-1.4 statements of account 4471, 2025-2026\n")
    await ita.goto(f"{consoles.urls['ITA']}/console/mla/new")
    await ita.select_option("#to", "MEX")
    await ita.select_option("#kind", "mutual_legal_assistance")
    await ita.fill("#reference", REFERENCE)
    await ita.select_option("#legal_basis", "untoc_article_18")
    await ita.select_option("#offence", "art6_1_a_smuggling")
    await ita.select_option("#measure", "asset_tracing")
    await ita.fill("#detail-asset_tracing-institution", "Banco Ficticio")  # the measure's guided step
    await ita.fill("#detail-asset_tracing-account", "4471")
    await ita.fill("#summary", "Trace the proceeds paid into account 4471 by the Lampedusa crossing network.")
    await ita.set_input_files("#attachment", str(evidence))
    await screenshot(ita, "scenario-1-ita-composes")
    await ita.click("#send")
    await ita.wait_for_url("**/console/mla/*")
    request_id = ita.url.rsplit("/", 1)[1]
    await ita.wait_for_selector("body.live")
    await mark_page(ita)

    # It appears in MEX's list without a reload.
    row = mex.locator(f'tr[data-request-id="{request_id}"]')
    await row.wait_for(timeout=20_000)
    assert await still_same_page(mex), "MEX's list was reloaded; it should update live"
    assert (await row.locator(".status").text_content()).strip() == "received"
    await screenshot(mex, "scenario-2-mex-sees-it-live")

    # MEX opens it and acknowledges.
    await mex.goto(f"{consoles.urls['MEX']}/console/mla/{request_id}")
    assert (await mex.text_content("#status")).strip() == "received"
    await mex.click('button[name=event][value=acknowledge]')
    await expect(mex.locator("#status")).to_have_text("acknowledged")

    # ITA's open request page follows, without a reload.
    await expect(ita.locator("#status")).to_have_text("acknowledged", timeout=20_000)
    assert await still_same_page(ita), "ITA's request page was reloaded; it should update live"
    # MEX opening the request sent ITA a signed `retrieved` receipt; the timeline shows it.
    await ita.locator('ol.timeline li[data-what="receipt.retrieved"][data-by="MEX"]').wait_for(timeout=20_000)
    await screenshot(ita, "scenario-3-ita-sees-acknowledged")

    # The auditor: the thread as a sequence diagram, then one entry's inclusion proof.
    hub = consoles.fed.hub
    await eventually(lambda: sum(1 for e in hub.store.trail(thread=THREAD, limit=100)
                                 if e["type"] in ("mla.request", "mla.status")) == 2,
                     what="the request and the acknowledgement audited")
    entries = hub.store.trail(thread=THREAD, limit=100)
    request_entry = next(e for e in entries if e["type"] == "mla.request")
    await eventually(lambda: (hub.store.latest_checkpoint() or (0,))[0] > request_entry["seq"],
                     timeout=30, what="a checkpoint covering the request")

    await consoles.log_in(auditor, "HUB", "auditor")
    await auditor.goto(f"{consoles.urls['HUB']}/console/threads/{THREAD}")
    lanes = await auditor.locator("svg#sequence g.lane").evaluate_all("gs => gs.map(g => g.dataset.country)")
    assert {"ITA", "MEX"} <= set(lanes)
    arrows = await auditor.locator("svg#sequence g.arrow").evaluate_all(
        "gs => gs.map(g => [Number(g.dataset.seq), g.dataset.type, g.dataset.verdict])")
    assert sorted(a[0] for a in arrows) == sorted(e["seq"] for e in entries)
    assert {"mla.request", "mla.status", "receipt"} <= {a[1] for a in arrows}
    await screenshot(auditor, "scenario-4-auditor-thread")

    await auditor.click(f'svg#sequence g.arrow[data-seq="{request_entry["seq"]}"]')
    await auditor.wait_for_url(f"**/console/entries/{request_entry['seq']}")
    await expect(auditor.locator("#proof-status")).to_have_text("matches the hub's checkpoint", timeout=10_000)
    assert "verified" in (await auditor.get_attribute("#proof-status", "class")).split()
    await screenshot(auditor, "scenario-5-auditor-proof-verified")
