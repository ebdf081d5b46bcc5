"""The status page in a real browser: Debian's headless Chromium, driven through its chromedriver.

Screenshots of every page visited are kept under test-artifacts/browser/ (git-ignored; set
NEWSINGEST_TEST_ARTIFACTS to put them elsewhere); the folder is printed at the start of the run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import REPO, RUN_ID, query, wait_for
from status_site import (
    HOSTILE_HEADLINE,
    HOSTILE_REJECT,
    StatusSite,
    running_status_site,
)

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# What this machine's Chromium needs to start headless as root without reaching out to Google.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1600",
)


def _browser_missing() -> str | None:
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} is not installed (apt-get install {package}; .ci/run installs it)"
    return None


pytestmark = pytest.mark.skipif(_browser_missing() is not None, reason=str(_browser_missing()))


@pytest.fixture(scope="module")
def site(
    empty_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StatusSite]:
    """This module's status page, its database and queue."""
    with running_status_site(empty_database, tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module")
def screenshots(pytestconfig: pytest.Config) -> Path:
    """Where this run's screenshots go, printed so that they can be found."""
    root = Path(os.environ.get("NEWSINGEST_TEST_ARTIFACTS", REPO / "test-artifacts"))
    folder = root / "browser" / RUN_ID
    folder.mkdir(parents=True, exist_ok=True)
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():  # type: ignore[union-attr]
        print(f"\nstatus page screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """Headless Chromium with a fresh profile, driven by Debian's chromedriver."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _open(browser: WebDriver, url: str) -> None:
    browser.get(url)
    wait_for(
        lambda: browser.execute_script("return document.readyState") == "complete",
        timeout=30,
        what=f"{url} to load",
    )


def _no_script_ran(browser: WebDriver) -> None:
    # The hostile headline's script would add #pwned and set the title; its image's error
    # handler would set the title. Neither may exist as an element in the page at all.
    from selenium.webdriver.common.by import By

    assert browser.find_elements(By.ID, "pwned") == []
    assert browser.title != "pwned"
    assert browser.execute_script("return document.scripts.length") == 0
    assert browser.execute_script("return document.images.length") == 0


def test_a_hostile_headline_shows_as_text_and_runs_nothing(
    site: StatusSite, browser: WebDriver, screenshots: Path
) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, site.url + "/")
    browser.save_screenshot(str(screenshots / "overview.png"))
    assert browser.title == "newsingest status"
    _no_script_ran(browser)
    headlines = [
        browser.execute_script("return arguments[0].firstChild.textContent.trim()", cell)
        for cell in browser.find_elements(By.CSS_SELECTOR, "#stories td.headline")
    ]
    assert HOSTILE_HEADLINE in headlines
    # The chart is drawn: one bar segment per region and day with articles.
    assert browser.find_elements(By.CSS_SELECTOR, "#regions svg rect.bar")


def test_a_rejection_link_leads_to_its_raw_content(
    site: StatusSite, browser: WebDriver, screenshots: Path
) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, site.url + "/rejections")
    browser.save_screenshot(str(screenshots / "rejections.png"))
    (row,) = [
        row
        for row in browser.find_elements(By.CSS_SELECTOR, "table.rejections tbody tr")
        if row.find_element(By.CSS_SELECTOR, "td.url").text.endswith("script-only.html")
    ]
    link = row.find_element(By.CSS_SELECTOR, "a.raw-link")
    sighting = link.text.removeprefix("rejection ")
    link.click()
    wait_for(
        lambda: browser.title == f"rejection {sighting} - newsingest",
        timeout=30,
        what="the rejection's page",
    )
    browser.save_screenshot(str(screenshots / "raw-content.png"))
    _no_script_ran(browser)
    shown = browser.execute_script("return document.getElementById('raw-content').textContent")
    assert shown == HOSTILE_REJECT


def test_pagination_walks_every_story(
    site: StatusSite, browser: WebDriver, screenshots: Path
) -> None:
    from selenium.webdriver.common.by import By

    def story_ids() -> list[str]:
        return [
            row.find_elements(By.TAG_NAME, "td")[5].text
            for row in browser.find_elements(By.CSS_SELECTOR, "table.stories tbody tr")
        ]

    # From the overview's first ten stories, its link leads to the eleventh onwards.
    _open(browser, site.url + "/")
    seen = story_ids()
    browser.find_element(By.ID, "more-stories").click()
    page = 2
    while True:
        wait_for(
            lambda page=page: browser.find_element(By.ID, "page-number").text == f"page {page}",
            timeout=30,
            what=f"stories page {page}",
        )
        browser.save_screenshot(str(screenshots / f"stories-{page}.png"))
        _no_script_ran(browser)
        ids = story_ids()
        assert ids
        assert not set(ids) & set(seen)
        seen += ids
        following = browser.find_elements(By.ID, "next-page")
        if not following:
            break
        following[0].click()
        page += 1
    ((stories,),) = query(site.database_url, "SELECT count(*) FROM newsingest.v1_stories")
    assert len(seen) == stories
    assert page == -(-stories // 10)
    browser.find_element(By.ID, "prev-page").click()
    wait_for(
        lambda: browser.find_element(By.ID, "page-number").text == f"page {page - 1}",
        timeout=30,
        what="the page before",
    )
