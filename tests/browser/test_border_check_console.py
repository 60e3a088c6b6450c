"""The console's border check page in a real Chromium: MEX alerts on a person (name in Arabic script);
at ITA a focal point opens "Border check" from the navigation, pastes a zone with a bad check digit
(each bad digit named, nothing checked), then the right zone (a HIT banner with the match scored
and explained), then a traveller who is not alerted (No hit)."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from nodes.national.features.person import issuing
from nodes.national.features.person import store as person_store
from nodes.plumbing.config import utcnow
from tests.browser.conftest import Consoles, screenshot
from tests.integration.federation import eventually
from tests.integration.test_person_alerts import person_alert, td3

pytestmark = pytest.mark.integration


async def test_paste_a_zone_see_the_banner(consoles: Consoles, new_page) -> None:  # noqa: ANN001
    fed = consoles.fed
    await issuing.issue(fed.nodes["MEX"].contexts["person"], person_alert("MX-BROWSER-1"))
    await eventually(lambda: person_store.replica_count(fed.nodes["ITA"].store.engine,
                                                        utcnow().date().isoformat()) == 1,
                     what="the person alert at ITA")
    zone = td3("MEX", "G7777777", "HADDAD", "MOHAMED", "800517")
    line1, line2 = zone.split("\n")
    bad = f"{line1}\n{line2[:9]}{(int(line2[9]) + 1) % 10}{line2[10:]}"

    page = await new_page()
    await consoles.log_in(page, "ITA", "focal")
    await page.goto(f"{consoles.urls['ITA']}/console/")
    await page.click("header nav a:text('Border check')")
    await page.wait_for_url("**/console/border")

    await page.fill("#mrz", bad)
    await page.click("#run-check")
    await expect(page.locator("#error-reason")).to_contain_text("machine-readable zone: check digit wrong")
    assert await page.get_attribute("#error-reason", "data-reason") == "mrz_check_digit"
    fields = await page.locator("#problems li").evaluate_all("items => items.map(i => i.dataset.field)")
    assert fields == ["document_number", "composite"]
    assert await page.input_value("#mrz") == bad  # kept, to be corrected
    await screenshot(page, "border-check-bad-digit")

    await page.fill("#mrz", zone)
    await page.fill("#point", "Fiumicino T3, desk 12")
    await page.click("#run-check")
    banner = page.locator("#result.hit")
    await expect(banner).to_contain_text("HIT")
    await expect(banner.locator(".person-match h3")).to_contain_text("MEX")
    await expect(banner.locator(".person-match h3")).to_contain_text("MX-BROWSER-1")
    await expect(banner.locator(".why")).to_contain_text("arabic without vowels")
    await expect(banner.locator(".score")).to_contain_text("date of birth agrees")
    await expect(page.locator("#zone-read")).to_contain_text("TD3")
    await screenshot(page, "border-check-hit")
    reference = await page.text_content("#reference")
    await eventually(lambda: person_store.received_hits(fed.nodes["MEX"].store.engine), what="the hit at MEX")
    assert person_store.check_entry(fed.nodes["ITA"].store.engine, reference)["who"] == "console:focal"

    await page.fill("#mrz", td3("MEX", "G7777778", "LINDQVIST", "KARIN", "910203"))
    await page.click("#run-check")
    await expect(page.locator("#result.clear h2")).to_have_text("No hit")
    await expect(page.locator("#checked-name")).to_have_text("LINDQVIST KARIN")
    await screenshot(page, "border-check-no-hit")

    # The same page in French (the language selector's link): labels, not codes or English.
    await page.goto(f"{consoles.urls['ITA']}/console/language?lang=fr&back=/console/border")
    await expect(page.locator("html")).to_have_attribute("lang", "fr")
    await expect(page.locator("header nav a[href='/console/border']")).to_have_text("Contrôle aux frontières")
    await page.fill("#mrz", zone)
    await page.click("#run-check")
    banner = page.locator("#result.hit")
    await expect(banner.locator("h2")).to_contain_text("CONCORDANCE")
    await expect(banner.locator(".person-match h3")).to_contain_text("soupçonné")
    await expect(banner.locator(".score")).to_contain_text("date de naissance : concorde")
    await expect(page.locator("#check option[value=carrier]")).to_have_text("contrôle par le transporteur")
    await screenshot(page, "border-check-hit-fr")
