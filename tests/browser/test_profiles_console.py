"""Issue 17 part 2 in a real Chromium: an Arabic focal point (IDN) publishes its State's profile; a
Chinese focal point (ITA) composes an MLA request in Chinese through the guided steps of each
measure, is stopped by IDN's profile (language) and by a missing template field, then sends; IDN
reads it in Arabic (the request's language, the template fields labelled) and answers; ITA sees the
answer in Chinese."""

from __future__ import annotations

import os
from pathlib import Path

import jinja2
import pytest
from playwright.async_api import expect

from nodes.plumbing import i18n
from tests.browser.conftest import Consoles, screenshot
from tests.integration.federation import eventually

pytestmark = pytest.mark.integration
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _say(lang: str, template: str, **values: str) -> str:
    """What the console shows for `template` in `lang` (the same filters and catalogs)."""
    return i18n.environment(jinja2.DictLoader({"t": template}), lang).get_template("t").render(**values)


async def _choose(page, lang: str) -> None:  # noqa: ANN001
    async with page.expect_navigation():
        await page.select_option("#language", lang)
    await expect(page.locator("html")).to_have_attribute("lang", lang)


async def _document(page, name: str) -> None:  # noqa: ANN001
    await screenshot(page, name)
    if os.environ.get("SOMEX_DOC_SCREENSHOTS") == "1":  # refresh the README's pictures on purpose only
        await page.screenshot(path=str(DOCS_IMG / f"{name}.png"), full_page=True)


async def test_an_arabic_and_a_chinese_focal_point_go_through_the_mla_scenario(consoles: Consoles, new_page) -> None:  # noqa: ANN001
    ita, idn = await new_page(), await new_page()
    await consoles.log_in(ita, "ITA", "focal")
    await consoles.log_in(idn, "IDN", "focal")
    await _choose(ita, "zh")
    await _choose(idn, "ar")

    # IDN's focal point publishes Indonesia's profile, in Arabic: requests in Arabic, Chinese or
    # English; a treaty required for extradition; INTERPOL for urgent requests.
    await idn.goto(f"{consoles.urls['IDN']}/console/profiles")
    await expect(idn.locator("h1")).to_have_text("الملفات التعريفية للسلطات المختصة")
    await idn.fill("#mla_name", "Kementerian Hukum, Direktorat Otoritas Pusat")
    await idn.fill("#mla_contact", "central.authority@kemenkumham.example")
    await idn.fill("#extradition_name", "Kementerian Hukum")
    await idn.fill("#extradition_contact", "extradition@kemenkumham.example")
    await idn.fill("#languages", "ar, xx")  # a typing mistake: refused, naming the code
    await idn.check('input[name=urgent_channels][value=interpol]')
    await idn.click("#publish")
    await expect(idn.locator(".flash.error")).to_contain_text("رمز لغة غير معروف")
    await expect(idn.locator(".flash.error")).to_contain_text("'xx'")
    await idn.fill("#languages", "ar, zh, en")
    await idn.click("#publish")
    await expect(idn.locator("#published")).to_be_visible()
    row = idn.locator('#profiles tr[data-country="IDN"]')
    await expect(row.locator(".convention")).to_have_text("يلزم وجود معاهدة")
    await expect(row.locator(".languages")).to_contain_text(_say("ar", "{{ 'zh' | language }}"))
    await _document(idn, "profiles-ar")
    await eventually(lambda: consoles.fed.nodes["ITA"].profiles.get("IDN"), what="IDN's profile at ITA")

    # ITA's focal point composes in Chinese: the requested State's profile and one guided step per
    # chosen measure are shown; the request's language defaults to the console's.
    await ita.goto(f"{consoles.urls['ITA']}/console/mla/new")
    await expect(ita.locator("#send")).to_have_text("发送请求")
    await ita.select_option("#to", "MEX")  # Mexico has published no profile: a visible warning
    await expect(ita.locator('[data-profile-for="MEX"].warning')).to_be_visible()
    await ita.select_option("#to", "IDN")
    profile_note = ita.locator('[data-profile-for="IDN"]')
    await expect(profile_note).to_be_visible()
    await expect(profile_note).to_contain_text(_say("zh", "{{ 'ar' | language }}"))
    await expect(ita.locator('[data-profile-for="MEX"]')).to_be_hidden()
    await expect(ita.locator("#request_language")).to_have_value("zh")
    await ita.select_option("#kind", "mutual_legal_assistance")
    await ita.fill("#reference", "ITA-2026-ZH1")
    await ita.select_option("#legal_basis", "untoc_article_18")
    await ita.select_option("#offence", "art6_1_a_smuggling")
    await ita.select_option("#measure", ["search_and_seizure", "witness_hearing"])
    await expect(ita.locator('fieldset[data-measure="search_and_seizure"]')).to_be_visible()
    await expect(ita.locator('fieldset[data-measure="witness_hearing"]')).to_be_visible()
    await expect(ita.locator('fieldset[data-measure="asset_tracing"]')).to_be_hidden()
    await expect(ita.locator('fieldset[data-measure="search_and_seizure"] legend')).to_have_text(
        _say("zh", "{{ 'search_and_seizure' | label('measure') }}"))
    await ita.fill("#detail-search_and_seizure-place", "泗水港 7 号仓库")
    await ita.fill("#detail-witness_hearing-person", "港务长")
    await ita.fill("#detail-witness_hearing-questions", "谁在 11 月 3 日接收了这艘船？")
    await ita.fill("#summary", "请求搜查仓库并扣押船员的手机，以及询问港务长。")
    await ita.click("#send")  # the seizure's items are missing
    await expect(ita.locator(".flash.error")).to_contain_text("缺少措施的必填项")
    await expect(ita.locator(".flash.error")).to_contain_text("search_and_seizure: items is required")
    await expect(ita.locator("#detail-search_and_seizure-place")).to_have_value("泗水港 7 号仓库")  # kept
    await ita.fill("#detail-search_and_seizure-items", "船员的手机和航海日志")
    await ita.select_option("#request_language", "it")  # Indonesia does not take Italian
    await ita.click("#send")
    await expect(ita.locator(".flash.error")).to_contain_text("被请求国不接受该语文")
    await expect(ita.locator(".flash.error")).to_contain_text("ar, zh, en")
    await ita.select_option("#request_language", "zh")
    await _document(ita, "mla-compose-zh")
    await ita.click("#send")
    await ita.wait_for_url("**/console/mla/*-*")
    request_id = ita.url.rsplit("/", 1)[-1].split("?")[0]
    await expect(ita.locator("#request-language")).to_have_attribute("data-language", "zh")
    await expect(ita.locator("#no-profile")).to_have_count(0)  # IDN's profile was checked

    # IDN reads it in Arabic: the request's language named in Arabic, each template field labelled.
    await idn.goto(f"{consoles.urls['IDN']}/console/mla")
    await idn.locator(f'tr[data-request-id="{request_id}"] a').click()
    await idn.wait_for_url(f"**/console/mla/{request_id}")
    await expect(idn.locator("html")).to_have_attribute("dir", "rtl")
    await expect(idn.locator("#request-language")).to_contain_text(_say("ar", "{{ 'zh' | language }}"))
    seizure = idn.locator('dl[data-measure="search_and_seizure"]')
    await expect(seizure.locator('dd[data-field="items"]')).to_contain_text("الأشياء المراد ضبطها")
    await expect(seizure.locator('dd[data-field="items"]')).to_contain_text("船员的手机和航海日志")
    await expect(idn.locator('dl[data-measure="witness_hearing"] dd[data-field="questions"]')).to_contain_text(
        "谁在 11 月 3 日接收了这艘船？")
    await expect(idn.locator("#summary")).to_have_attribute("lang", "zh")
    await _document(idn, "mla-request-ar")

    # IDN answers in Arabic: acknowledges, starts, executes with a note; ITA sees it in Chinese.
    for event in ("acknowledge", "start"):
        await idn.click(f"button[name=event][value={event}]")
        await expect(idn.locator(f'ol.timeline li[data-what="{event}"]')).to_have_count(1)
    await idn.fill("#note", "تم تفتيش المستودع وضبط الهواتف؛ محضر الاستماع إلى مدير الميناء مرفق.")
    await expect(idn.locator("#note_language")).to_have_value("ar")  # the note's language: the console's
    await idn.click("button[name=event][value=execute]")
    await expect(idn.locator("#status")).to_have_text(_say("ar", "{{ 'executed' | label('mla_state') }}"))
    await ita.goto(f"{consoles.urls['ITA']}/console/mla/{request_id}")
    await expect(ita.locator("#status")).to_have_text(_say("zh", "{{ 'executed' | label('mla_state') }}"))
    await expect(ita.locator("body")).to_contain_text("تم تفتيش المستودع وضبط الهواتف")
    note = ita.locator('#answers li[data-event="execute"]')  # the answer carries its language (issue 17)
    await expect(note.locator("blockquote.note")).to_have_attribute("lang", "ar")
    await expect(note.locator(".text-language")).to_have_text(
        _say("zh", '{{ _("Written in %(language)s, shown as written.", language="ar" | language) }}'))
    await _document(ita, "mla-answer-zh")
