"""Browser tests: Playwright (Python) driving Debian's Chromium against a running federation whose
node and hub consoles are served on loopback ports.

`make test` installs Debian's `chromium`; Playwright's own browser download is never used. Each
test's screenshots go to `test-artifacts/screenshots/` (or `$SOMEX_ARTIFACTS/screenshots/`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright

from nodes.hub.api import make_app as make_hub_app
from nodes.national.api import make_app as make_node_app
from tests.integration.conftest import broker, postgres  # noqa: F401 - session fixtures
from tests.integration.federation import RunningFederation, make_federation

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach Google's hosts.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]
ARTIFACTS = Path(os.environ.get("SOMEX_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))


@dataclass
class Consoles:
    fed: RunningFederation
    urls: dict[str, str]  # "HUB" and each country -> base URL

    def token(self, who: str, role: str) -> str:
        return self.fed.federation.credentials(who).tokens[role]

    async def log_in(self, page: Page, who: str, role: str) -> None:
        await page.goto(f"{self.urls[who]}/console/login")
        await page.fill("#token", self.token(who, role))
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{self.urls[who]}/console/**")


@pytest.fixture(scope="module")
async def consoles(broker, tmp_path_factory: pytest.TempPathFactory, request) -> AsyncIterator[Consoles]:  # noqa: ANN001, F811
    """One federation (hub, MEX, IDN, ITA) for a module's browser tests, each console on its own port."""
    fed = make_federation(broker, tmp_path_factory.mktemp("consoles"), request.module.__name__)
    await fed.start_all()
    servers = {"HUB": TestServer(make_hub_app(fed.hub))}
    servers.update({country: TestServer(make_node_app(node)) for country, node in fed.nodes.items()})
    for server in servers.values():
        await server.start_server()
    try:
        yield Consoles(fed, {who: str(server.make_url("")).rstrip("/") for who, server in servers.items()})
    finally:
        for server in servers.values():
            await server.close()
        await fed.stop_all()
        fed.delete(broker)


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's chromium is not installed at {CHROMIUM}: run `make test` (it installs it) "
                    "or `apt-get install chromium`")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def new_page(chromium: Browser, request):  # noqa: ANN001, ANN201
    """`await new_page()`: a page in a fresh browser context (its own cookies), closed after the test.
    A test that fails leaves a screenshot of each of its pages."""
    contexts = []

    async def make() -> Page:
        context = await chromium.new_context(viewport={"width": 1280, "height": 860})
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for n, context in enumerate(contexts):
        if failed:
            for page in context.pages:
                await screenshot(page, f"FAILED-{request.node.name}-{n}")
        await context.close()


async def screenshot(page: Page, name: str) -> Path:
    path = ARTIFACTS / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(path), full_page=True)
    return path


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):  # noqa: ANN001, ANN201
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report
