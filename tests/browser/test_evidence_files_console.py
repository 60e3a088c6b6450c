"""Issue 17 part 3 in a real Chromium: a large evidence file sent with an MLA request is listed on
the request's page at both ends (name, size, chunks done of all, state) in the reader's language,
and the requested State's focal point downloads it, intact, from the console."""

from __future__ import annotations

import hashlib
from pathlib import Path

import jinja2
import pytest
from playwright.async_api import expect

from nodes.plumbing import i18n
from protocol import files as protocol_files
from tests.browser.conftest import Consoles, screenshot
from tests.integration.federation import eventually
from tests.integration.test_evidence_files import random_file, received, send_request_with_file, sent

pytestmark = pytest.mark.integration


def _say(lang: str, template: str, **values: object) -> str:
    return i18n.environment(jinja2.DictLoader({"t": template}), lang).get_template("t").render(**values)


async def test_a_focal_point_sees_the_files_progress_and_downloads_the_complete_file(
        consoles: Consoles, new_page, tmp_path: Path) -> None:  # noqa: ANN001
    ita, mex = consoles.fed.nodes["ITA"], consoles.fed.nodes["MEX"]
    source = tmp_path / "phone-image.bin"
    sha256 = random_file(str(source), protocol_files.CHUNK_BYTES * 2 + 99)  # three chunks
    created = await send_request_with_file(ita, str(source), "ITA-FILE-BROWSER")
    await eventually(lambda: (received(mex, created["id"]) or {}).get("state") == "complete", timeout=90,
                     what="the file complete at MEX")
    await eventually(lambda: (sent(ita, created["id"]) or {}).get("state") == "complete", what="ITA sees it complete")

    page = await new_page()
    await consoles.log_in(page, "MEX", "focal")
    async with page.expect_navigation():
        await page.select_option("#language", "ru")
    await page.goto(f"{consoles.urls['MEX']}/console/mla/{created['id']}")
    row = page.locator(f'#files tr[data-carrier="{created["id"]}"]')
    await expect(row).to_have_attribute("data-state", "complete")
    await expect(row.locator(".progress")).to_have_text(_say("ru", '{{ ngettext("%(done)s of %(num)s chunk", '
                                                                   '"%(done)s of %(num)s chunks", 3, done=3) }}'))
    await expect(row.locator(".file-state")).to_have_text(_say("ru", "{{ 'complete' | label('file_state') }}"))
    await expect(row).to_contain_text(_say("ru", "{{ 'ITA' | country }}"))
    await screenshot(page, "evidence-files-ru")
    async with page.expect_download() as waiting:
        await row.locator("a[download]").click()
    download = await waiting.value
    assert download.suggested_filename == "phone-image.bin"
    saved = tmp_path / "downloaded.bin"
    await download.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == sha256

    sender = await new_page()  # the requesting State's page: the file sent, complete, nothing to download
    await consoles.log_in(sender, "ITA", "focal")
    await sender.goto(f"{consoles.urls['ITA']}/console/mla/{created['id']}")
    out = sender.locator(f'#files tr[data-carrier="{created["id"]}"]')
    await expect(out).to_have_attribute("data-direction", "out")
    await expect(out).to_have_attribute("data-state", "complete")
    await expect(out.locator("a")).to_have_count(0)
