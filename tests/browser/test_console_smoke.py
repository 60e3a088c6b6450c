"""The consoles open in a real Chromium: login, the health page, refusal of the wrong role."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Consoles, screenshot

pytestmark = pytest.mark.integration


async def test_focal_point_logs_in_and_sees_federation_health(consoles: Consoles, new_page) -> None:  # noqa: ANN001
    page = await new_page()
    await page.goto(f"{consoles.urls['MEX']}/console/")
    assert "/console/login" in page.url  # no page without login
    await screenshot(page, "login")
    await consoles.log_in(page, "MEX", "focal")
    await page.wait_for_selector("#broker.verified")
    assert await page.text_content("h1") == "Federation health · MEX"
    await screenshot(page, "node-health")


async def test_focal_token_cannot_open_the_auditor_console(consoles: Consoles, new_page) -> None:  # noqa: ANN001
    page = await new_page()
    await page.goto(f"{consoles.urls['HUB']}/console/login")
    await page.fill("#token", consoles.token("MEX", "focal"))
    await page.click("button[type=submit]")
    await page.wait_for_selector(".flash.error")
    assert "/console/login" in page.url
    await page.goto(f"{consoles.urls['HUB']}/console/")
    assert "/console/login" in page.url
