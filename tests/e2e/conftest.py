"""Fixtures for the browser tests: the web tests' bank and live server, and one headless Chromium.

The bank, the app and the live server are the ones of ``tests/web/conftest.py`` (loaded here
under a name of its own, so both folders can run in one pytest session). The browser is
Debian's Chromium at ``/usr/bin/chromium``, driven by Playwright; nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}


def _load_web_fixtures():
    path = Path(__file__).resolve().parents[1] / "web" / "conftest.py"
    spec = importlib.util.spec_from_file_location("bankcrm_e2e_web_fixtures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


web = _load_web_fixtures()
web_bank = web.web_bank
web_app = web.web_app
live_server = web.live_server
PASSWORDS: dict[str, str] = web.PASSWORDS
ROLE_USER: dict[str, str] = web.ROLE_USER
ID_C1: str = web.ID_C1
PHONE_C1: str = web.PHONE_C1


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


class Screenshots:
    """Writes docs/screenshots/NAME.png, only when BANKCRM_UPDATE_SCREENSHOTS=1 and only once per page."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def take(self, page, name: str) -> None:
        if self.enabled:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Screenshots:
    """The docs' screenshots come from the SQLite run of each test (the PostgreSQL run draws the same pages)."""
    callspec = getattr(request.node, "callspec", None)
    backend = callspec.params.get("any_settings", "sqlite") if callspec else "sqlite"
    wanted = os.environ.get("BANKCRM_UPDATE_SCREENSHOTS") == "1"
    return Screenshots(wanted and backend == "sqlite")
