"""Headless Chromium for browser tests, driven by Selenium.

``tests/conftest.py`` imports the fixtures of this module, so every test can ask
for ``chrome`` (one browser) or ``chrome_factory`` (several browsers with separate
cookies, such as a customer and a staff member). Tests using them are marked
``@pytest.mark.browser`` and run against pytest-django's ``live_server``. They are
skipped when chromedriver is not installed (``make browser-deps`` installs Debian's
``chromium`` and ``chromium-driver``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
)
DRIVER_CANDIDATES = (
    "chromedriver",
    "/usr/bin/chromedriver",
    "/usr/lib/chromium/chromedriver",
)
BROWSER_CANDIDATES = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "/usr/bin/chromium",
)
PAGE_LOAD_SECONDS = 30


def _find(candidates: tuple[str, ...]) -> str | None:
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
        if os.path.isabs(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture
def chrome_factory() -> Iterator[Callable[[], Any]]:
    """Return a function that starts a fresh headless Chromium; all quit at the end."""
    driver_path = _find(DRIVER_CANDIDATES)
    browser_path = _find(BROWSER_CANDIDATES)
    if driver_path is None or browser_path is None:
        pytest.skip(
            "Browser test skipped: chromedriver or chromium is not installed. "
            "Install Debian's chromium and chromium-driver (make browser-deps)."
        )
    from selenium import webdriver

    drivers: list[Any] = []
    profiles: list[str] = []

    def start() -> Any:
        profile = tempfile.mkdtemp(prefix="omnichannel-chrome-")
        profiles.append(profile)
        options = webdriver.ChromeOptions()
        options.binary_location = browser_path
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        service = webdriver.ChromeService(executable_path=driver_path)
        driver = webdriver.Chrome(service=service, options=options)
        driver.set_page_load_timeout(PAGE_LOAD_SECONDS)
        drivers.append(driver)
        return driver

    yield start

    for driver in drivers:
        driver.quit()
    for profile in profiles:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def chrome(chrome_factory: Callable[[], Any]) -> Any:
    """One headless Chromium with a fresh profile."""
    return chrome_factory()


def log_in(driver: Any, base_url: str, user: Any) -> None:
    """Give the browser a logged-in session of ``user`` on ``base_url``."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    session_cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    # A cookie can only be set for the site the browser is on.
    driver.get(f"{base_url}/static/omnichannel/chat-widget.css")
    driver.add_cookie(
        {
            "name": settings.SESSION_COOKIE_NAME,
            "value": session_cookie.value,
            "path": "/",
        }
    )


def console_errors(driver: Any) -> list[str]:
    """Return the JavaScript errors the page logged, when the driver reports them.

    Failed network requests (a missing favicon, say) are left out.
    """
    from selenium.common.exceptions import WebDriverException

    try:
        entries = driver.get_log("browser")
    except WebDriverException:
        return []
    return [
        entry["message"]
        for entry in entries
        if entry.get("level") == "SEVERE" and entry.get("source") != "network"
    ]
