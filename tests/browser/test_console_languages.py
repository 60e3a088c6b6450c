"""The consoles in the reader's language, in a real Chromium: a request composed in Spanish reads in
Arabic at the receiver (labels by code, free text as written and marked), Arabic is laid out right
to left, and the browser's Accept-Language is the default until the person chooses."""

from __future__ import annotations

import os
from pathlib import Path

import jinja2
import pytest
from playwright.async_api import expect

from nodes.plumbing import i18n
from tests.browser.conftest import Consoles, screenshot

pytestmark = pytest.mark.integration
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _when(lang: str, value: str) -> str:
    """What the console's `when` filter shows for `value` in `lang` (the text of its <time>)."""
    env = i18n.environment(jinja2.DictLoader({"t": "{{ v | when }}"}), lang)
    shown = env.get_template("t").render(v=value)
    return shown[shown.index(">") + 1:shown.rindex("<")]


async def _choose(page, lang: str) -> None:  # noqa: ANN001
    """Pick a language in the selector the way a person does (the page reloads in it)."""
    async with page.expect_navigation():
        await page.select_option("#language", lang)
    await expect(page.locator("html")).to_have_attribute("lang", lang)


async def test_a_request_composed_in_spanish_reads_in_arabic_at_the_receiver(consoles: Consoles, new_page) -> None:  # noqa: ANN001
    mex, idn = await new_page(), await new_page()
    await consoles.log_in(mex, "MEX", "focal")
    await consoles.log_in(idn, "IDN", "focal")

    # MEX's focal point works in Spanish: chosen once, remembered for the next pages.
    await _choose(mex, "es")
    await mex.goto(f"{consoles.urls['MEX']}/console/mla/new")
    await expect(mex.locator("html")).to_have_attribute("lang", "es")
    await expect(mex.locator("#send")).to_have_text("Enviar la solicitud")
    await expect(mex.locator('#kind option[value="extradition"]')).to_have_text("extradición")
    await mex.select_option("#to", "IDN")
    await mex.select_option("#kind", "mutual_legal_assistance")
    await mex.fill("#reference", "MEX-2026-ES1")
    await mex.select_option("#legal_basis", "untoc_article_18")
    await mex.select_option("#offence", "art6_1_a_smuggling")
    await mex.select_option("#measure", ["asset_tracing", "witness_hearing"])
    await mex.fill("#detail-asset_tracing-institution", "Banco Ficticio")
    await mex.fill("#detail-asset_tracing-holder", "el patrón de la embarcación")
    await mex.fill("#detail-witness_hearing-person", "el capitán de puerto")
    await mex.fill("#detail-witness_hearing-questions", "¿Quién recibió la embarcación?")
    await mex.select_option("#urgency", "urgent")
    await mex.fill("#urgency_reason", "La embarcación zarpa el viernes.")
    await mex.fill("#summary", "Solicitamos los registros bancarios del patrón de la embarcación.")
    await mex.click("#send")
    await mex.wait_for_url("**/console/mla/*-*")
    request_id = mex.url.rsplit("/", 1)[-1]

    # The sender's page: labels, not codes, and a Spanish date in the timeline.
    await expect(mex.locator("#legal-basis")).to_contain_text("UNTOC, artículo 18 (asistencia judicial recíproca)")
    await expect(mex.locator("#offences")).to_contain_text("art. 6(1)(a): tráfico ilícito de migrantes")
    await expect(mex.locator("#measures")).to_contain_text("localización de productos y bienes")
    await expect(mex.locator("#kind")).to_have_text("asistencia judicial recíproca, urgente")
    assert "untoc_article_18" not in await mex.text_content("#request-body")
    sent = mex.locator('ol.timeline li[data-what="submit"] time')
    await expect(sent).to_have_count(1)
    assert await sent.text_content() == _when("es", await sent.get_attribute("datetime"))
    assert " nov " in await sent.text_content() or " dic " in await sent.text_content() \
        or any(f" {m} " in await sent.text_content() for m in ("ene", "feb", "mar", "abr", "may", "jun", "jul",
                                                               "ago", "sept", "oct"))

    # The receiver reads the same request in Arabic, right to left. Tables read from the right:
    # the first column is the rightmost one.
    await _choose(idn, "ar")
    await idn.goto(f"{consoles.urls['IDN']}/console/mla")
    row = idn.locator(f'tr[data-request-id="{request_id}"]')
    await row.wait_for()  # it arrives live
    await expect(row.locator(".status")).to_have_text("مُستلَم")
    headers = idn.locator("#requests thead th")
    first, last = await headers.first.bounding_box(), await headers.last.bounding_box()
    assert first["x"] > last["x"]
    await row.locator("a").click()
    await idn.wait_for_url(f"**/console/mla/{request_id}")
    html = idn.locator("html")
    await expect(html).to_have_attribute("dir", "rtl")
    await expect(html).to_have_attribute("lang", "ar")
    await expect(idn.locator("#legal-basis")).to_contain_text("اتفاقية الجريمة المنظمة، المادة 18")
    await expect(idn.locator("#measures")).to_contain_text("تعقب العائدات والأصول")
    await expect(idn.locator("#status")).to_have_text("مُستلَم")
    # Free text as the sender wrote it, marked with the request's language: Spanish, the composer's
    # default in a Spanish console (issue 17 part 2).
    await expect(idn.locator("#summary")).to_have_text("Solicitamos los registros bancarios del patrón de la embarcación.")
    await expect(idn.locator("#request-language")).to_have_attribute("data-language", "es")
    await expect(idn.locator("#request-body .text-language").last).to_have_attribute("data-language", "es")
    await expect(idn.locator("#request-body .text-language").last).to_contain_text("مكتوب باللغة")
    await expect(idn.locator('dl[data-measure="witness_hearing"] dd[data-field="questions"]')).to_contain_text(
        "¿Quién recibió la embarcación?")
    arrived = idn.locator('ol.timeline li[data-what="receive"] time')
    assert await arrived.text_content() == _when("ar", await arrived.get_attribute("datetime"))

    # Mirrored: the timeline's rule runs down the right-hand side, its dots on it.
    rule = await idn.locator("ol.timeline").evaluate(
        "e => [getComputedStyle(e).borderRightWidth, getComputedStyle(e).borderLeftWidth]")
    assert rule == ["2px", "0px"]
    await screenshot(idn, "console-ar-request")
    if os.environ.get("SOMEX_DOC_SCREENSHOTS") == "1":  # refresh the README's picture on purpose only
        await idn.screenshot(path=str(DOCS_IMG / "console-ar.png"), full_page=True)

    # IDN acts in Arabic; MEX, still in Spanish, sees it live in Spanish.
    await expect(idn.locator("button[name=event][value=acknowledge]")).to_have_text("الإقرار بالاستلام")
    await mex.wait_for_selector("body.live")
    await idn.click("button[name=event][value=acknowledge]")
    await expect(idn.locator("#status")).to_have_text("تم الإقرار بالاستلام")
    await expect(mex.locator("html")).to_have_attribute("lang", "es")
    await expect(mex.locator("#status")).to_have_text("acusado recibo")
    acknowledged = mex.locator('ol.timeline li[data-what="acknowledge"][data-by="IDN"]')
    await expect(acknowledged).to_contain_text("Indonesia: acuse de recibo de la solicitud")


async def test_the_browsers_language_is_the_default_until_the_person_chooses(consoles: Consoles, chromium) -> None:  # noqa: ANN001
    context = await chromium.new_context(locale="fr-FR")  # Chromium sends Accept-Language: fr-FR,fr
    try:
        page = await context.new_page()
        await page.goto(f"{consoles.urls['ITA']}/console/login")
        await expect(page.locator("html")).to_have_attribute("lang", "fr")
        await expect(page.locator("html")).to_have_attribute("dir", "ltr")
        await expect(page.locator("h1")).to_have_text("Se connecter")
        await page.fill("#token", consoles.token("ITA", "focal"))
        await page.click(".login button[type=submit]")
        await page.wait_for_url(f"{consoles.urls['ITA']}/console/")
        await expect(page.locator("h1")).to_contain_text("État de la fédération · ITA")
        await expect(page.locator("header nav a[href='/console/inbox']")).to_have_text("Reçus")
        await _choose(page, "zh")
        await expect(page.locator("h1")).to_contain_text("联盟运行状况 · ITA")
        await page.goto(f"{consoles.urls['ITA']}/console/mla")  # the choice outlives the page
        await expect(page.locator("h1")).to_have_text("司法协助请求")
    finally:
        await context.close()
