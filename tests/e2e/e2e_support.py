"""What the browser tests share: the web tests' bank (loaded once), the browser's path, screenshots.

A module with a name of its own, so the tests can import it whichever ``conftest`` module pytest
loaded last (``pytest tests/e2e tests/web`` loads both folders' conftest before any test module).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
WEB_FIXTURES = "bankcrm_e2e_web_fixtures"


def _load_web_fixtures() -> ModuleType:
    if WEB_FIXTURES in sys.modules:
        return sys.modules[WEB_FIXTURES]
    path = Path(__file__).resolve().parents[1] / "web" / "conftest.py"
    spec = importlib.util.spec_from_file_location(WEB_FIXTURES, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


web = _load_web_fixtures()
PASSWORDS: dict[str, str] = web.PASSWORDS
ROLE_USER: dict[str, str] = web.ROLE_USER
ID_C1: str = web.ID_C1
PHONE_C1: str = web.PHONE_C1


class Screenshots:
    """Writes docs/screenshots/NAME.png, only when BANKCRM_UPDATE_SCREENSHOTS=1 and only once per page."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def take(self, page, name: str) -> None:
        if self.enabled:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def screenshots_wanted(backend: str) -> Screenshots:
    return Screenshots(os.environ.get("BANKCRM_UPDATE_SCREENSHOTS") == "1" and backend == "sqlite")
