"""Fixtures for the browser tests: the web tests' bank and live server, and one headless Chromium.

The bank, the app and the live server are the ones of ``tests/web/conftest.py`` (loaded by
``e2e_support`` under a name of its own, so both folders can run in one pytest session). The
browser is Debian's Chromium at ``/usr/bin/chromium``, driven by Playwright; nothing is
downloaded. Test modules import constants from ``e2e_support``; the names below stay for the
modules that import them from here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_support import (
    CHROMIUM,
    ID_C1,
    PASSWORDS,
    PHONE_C1,
    ROLE_USER,
    SCREENSHOTS,
    VIEWPORT,
    Screenshots,
    screenshots_wanted,
    web,
)

__all__ = ["CHROMIUM", "ID_C1", "PASSWORDS", "PHONE_C1", "ROLE_USER", "SCREENSHOTS", "VIEWPORT", "Screenshots"]

web_bank = web.web_bank
web_app = web.web_app
live_server = web.live_server


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the session (Debian's package; Playwright never downloads one)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Screenshots:
    """The docs' screenshots come from the SQLite run of each test (the PostgreSQL run draws the same pages)."""
    callspec = getattr(request.node, "callspec", None)
    return screenshots_wanted(callspec.params.get("any_settings", "sqlite") if callspec else "sqlite")
