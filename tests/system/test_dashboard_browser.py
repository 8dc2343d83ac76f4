"""The dashboard in Debian's Chromium, driven by Playwright, on a real farm building the
example: a failed build's reason on the overview, a live log that streams and survives a
dropped connection with no gap and no repeated line, a finished build's log shown once,
cancel from the page; screenshots under the test's temporary directory, and no
JavaScript error on any page."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.builders import FarmProcess, wait_until

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FarmProcess]:
    farm = FarmProcess(tmp_path_factory.mktemp("dashboard") / "var", "--example")
    yield farm
    farm.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # As root Chromium needs --no-sandbox, which chromium_sandbox=False passes.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             chromium_sandbox=False)
        yield browser
        browser.close()


class Tab:
    def __init__(self, browser: Browser, farm: FarmProcess, width: int = 1280) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.farm = farm
        self.page.goto(f"{farm.url}/login")
        self.page.fill("input[name=token]", farm.token)
        self.page.click("button")
        self.page.wait_for_url(f"{farm.url}/")

    def open(self, path: str) -> Page:
        self.page.goto(f"{self.farm.url}{path}")
        return self.page

    def shot(self, path: Path) -> None:
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000

    def close(self) -> None:
        self.context.close()


def request(farm: FarmProcess, atom: str, **env: str) -> dict[str, Any]:
    asked = httpx.post(f"{farm.url}/api/v1/builds", headers=farm.auth, timeout=120,
                       json={"profile": "laptop", "atoms": [atom], "env": env})
    assert asked.status_code == 201, asked.text
    return asked.json()[0]


def state(farm: FarmProcess, build_id: int) -> str:
    return httpx.get(f"{farm.url}/api/v1/builds/{build_id}", headers=farm.auth,
                     timeout=30).json()["state"]


def raw_log(farm: FarmProcess, build_id: int) -> str:
    return httpx.get(f"{farm.url}/api/v1/builds/{build_id}/log", headers=farm.auth,
                     timeout=30).text


def test_the_overview_shows_why_a_build_failed(farm: FarmProcess, browser: Browser,
                                               tmp_path: Path) -> None:
    broken = request(farm, "app-misc/broken")
    wait_until(lambda: state(farm, broken["id"]) == "failed", 300, "broken to fail")
    for width in (1280, 390):
        tab = Tab(browser, farm, width)
        page = tab.open("/")
        row = page.locator("table tr", has_text="app-misc/broken")
        assert "failed in its compile phase" in row.first.inner_text()
        tab.shot(tmp_path / f"overview-{width}.png")
        page = tab.open("/builds")
        assert page.locator("td", has_text="app-misc/broken").count() >= 1
        tab.shot(tmp_path / f"builds-{width}.png")
        for path, shows in (("/workers", "embedded"), ("/profiles", "laptop"),
                            ("/plan", "distinct builds serve"), ("/hosts", "Fleet machines"),
                            ("/binhost", "Signing keys"), ("/distcc", "distcc hosts"),
                            ("/rollout", "Channels and rules"),
                            (f"/builds/{broken['id']}", "Portage's phases")):
            assert shows in tab.open(path).inner_text("main"), path
            tab.shot(tmp_path / f"{path.strip('/').replace('/', '-')}-{width}.png")
            # Nothing wider than the screen: no sideways scrolling on a phone.
            wide = tab.page.evaluate("document.documentElement.scrollWidth")
            assert wide <= width, (path, wide)
        assert tab.errors == []
        tab.close()


def test_a_live_log_streams_and_resumes_after_a_drop(farm: FarmProcess, browser: Browser,
                                                     tmp_path: Path) -> None:
    build = request(farm, "app-misc/slowpoke", CFLAGS="-O2 -g1 -march=x86-64-v2")
    wait_until(lambda: "compiling for 12 seconds" in raw_log(farm, build["id"]), 300,
               "slowpoke compiling")
    tab = Tab(browser, farm)
    page = tab.open(f"/builds/{build['id']}")
    assert page.locator("#log[data-stream]").count() == 1
    at_load = page.inner_text("#log").count("\n")
    tab.context.set_offline(True)  # the connection drops; EventSource retries
    page.wait_for_timeout(1500)
    tab.context.set_offline(False)
    # Hidden, the tab closes its stream; shown again, it reopens it from its offset.
    for hidden in (True, False):
        page.wait_for_timeout(1500)
        page.evaluate("hidden => { Object.defineProperty(document, 'hidden', "
                      "{value: hidden, configurable: true}); "
                      "document.dispatchEvent(new Event('visibilitychange')); }", hidden)
    page.wait_for_selector("#log[data-done=true]", timeout=120_000)
    assert page.inner_text("#state") == "succeeded"
    shown = page.inner_text("#log")
    assert shown.count("\n") > at_load  # lines came in while the page was open
    assert shown.rstrip("\n") == raw_log(farm, build["id"]).rstrip("\n")  # no gap, no repeat
    tab.shot(tmp_path / "live-log.png")
    # Opened after the end: the log once, no stream.
    page = tab.open(f"/builds/{build['id']}")
    assert page.locator("#log[data-stream]").count() == 0
    assert page.inner_text("#log").count("slowpoke: compiling for 12 seconds") == 1
    allowed = [e for e in tab.errors if "ERR_INTERNET_DISCONNECTED" not in e]
    assert allowed == []
    tab.close()


def test_a_live_page_refreshes_itself(farm: FarmProcess, browser: Browser,
                                      tmp_path: Path) -> None:
    tab = Tab(browser, farm)
    page = tab.open("/builds")
    build = request(farm, "app-misc/slowpoke", CFLAGS="-O1 -g2 -march=x86-64-v2")
    # No reload: the page fetches itself every few seconds and swaps its table in.
    page.wait_for_selector(f"a[href='/builds/{build['id']}']", timeout=30_000)
    tab.shot(tmp_path / "refreshed.png")
    assert tab.errors == []
    tab.close()


def test_cancel_from_the_page(farm: FarmProcess, browser: Browser, tmp_path: Path) -> None:
    build = request(farm, "app-misc/slowpoke", CFLAGS="-O3 -march=x86-64-v2")
    tab = Tab(browser, farm)
    page = tab.open(f"/builds/{build['id']}")
    page.click("text=cancel")
    page.wait_for_url(f"{farm.url}/builds/{build['id']}")
    assert state(farm, build["id"]) == "cancelled"
    assert page.inner_text("#state") == "cancelled"
    tab.shot(tmp_path / "cancelled.png")
    assert tab.errors == []
    tab.close()
