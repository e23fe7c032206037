"""Translations and the display formats of the web app: Simplified Chinese by default, English on request.

Messages are keyed by their English text (gettext style): English needs no catalog, and
``locales/zh-CN.json`` maps each English message to its Chinese text. A message missing from
a catalog falls back to English, and a test checks that every message used by a template or
a route has its Chinese entry. Placeholders use ``str.format`` names: ``_("{n} customers", n=3)``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
LANG_COOKIE = "bankcrm_lang"
_LOCALE_DIR = Path(__file__).with_name("locales")

# code lists shown to people: the stored code -> its English message (translated like any other)
CODE_LABELS: dict[str, dict[str, str]] = {
    "role": {
        "rm": "Relationship manager",
        "team_lead": "Team lead",
        "branch_manager": "Branch manager",
        "marketing": "Marketing and analytics",
        "compliance": "Compliance",
        "admin": "System administrator",
    },
    "tier": {"vip": "VIP", "potential": "Potential", "ordinary": "Ordinary"},
    "value_class": {
        "high_value": "High value",
        "micro_profit": "Micro profit",
        "breakeven": "Break-even",
        "loss": "Loss",
    },
    "segment": {"A": "Segment A", "B": "Segment B", "C": "Segment C", "D": "Segment D"},
    "gender": {"M": "Male", "F": "Female"},
    "priority": {"urgent": "Urgent", "high": "High", "normal": "Normal", "low": "Low"},
    "task_status": {
        "open": "Open",
        "snoozed": "Snoozed",
        "done": "Done",
        "cancelled": "Cancelled",
        "expired": "Expired",
    },
    "task_kind": {"task": "Task", "opportunity": "Opportunity", "message": "Automatic message"},
    "channel": {
        "visit": "Visit",
        "call": "Phone call",
        "wecom": "WeCom",
        "sms": "SMS",
        "email": "E-mail",
        "wechat": "WeChat",
        "app": "App push",
    },
    "field": {
        "id_number": "ID number",
        "phone": "Mobile",
        "address": "Address",
        "email": "E-mail",
        "name": "Name",
    },
}


@cache
def catalog(locale: str) -> Mapping[str, str]:
    """The message catalog of a locale (English is the identity).

    ``web/locales/<locale>.json`` plus every domain's own ``src/bankcrm/<domain>/locales/<locale>.json``,
    so a domain adds its messages next to its templates.
    """
    if locale == "en":
        return {}
    data: dict[str, str] = {}
    domains = sorted(p for p in _LOCALE_DIR.parent.parent.glob(f"*/locales/{locale}.json") if p.parent != _LOCALE_DIR)
    for path in (_LOCALE_DIR / f"{locale}.json", *domains):
        data.update(json.loads(path.read_text(encoding="utf-8")))
    return data


def negotiate(cookie_value: str | None) -> str:
    """The locale from the language cookie; Simplified Chinese unless English was chosen."""
    return cookie_value if cookie_value in LOCALES else DEFAULT_LOCALE


class Translator:
    """Translation and formatting for one request's locale and the bank's time zone."""

    def __init__(self, locale: str = DEFAULT_LOCALE, timezone: str = "Asia/Shanghai") -> None:
        self.locale = locale if locale in LOCALES else DEFAULT_LOCALE
        self.tz = ZoneInfo(timezone)
        self._messages = catalog(self.locale)

    def gettext(self, message: str, **values: Any) -> str:
        text = self._messages.get(message, message)
        return text.format(**values) if values else text

    __call__ = gettext

    def label(self, kind: str, code: str | None) -> str:
        """A code (tier, role, segment …) in words; unknown codes are shown as they are."""
        if code is None:
            return "—"
        english = CODE_LABELS.get(kind, {}).get(code)
        return self.gettext(english) if english else code

    def datetime(self, value: datetime | None) -> str:
        """Date and time in the bank's time zone (Asia/Shanghai), to the second."""
        if value is None:
            return "—"
        return value.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S")

    def date(self, value: date | None) -> str:
        return "—" if value is None else value.isoformat()


def format_money(value: Decimal | float | int | str | None) -> str:
    """An amount as ``¥1,234,567.89`` (negative: ``-¥12.30``), rounded half up to cents."""
    if value is None:
        return "—"
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return "—"
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,.2f}"


def format_number(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def format_ratio(value: float | None) -> str:
    """A fraction as a percentage for display (0.305 -> 30.5%)."""
    if value is None:
        return "—"
    return f"{value * 100:.1f}%"
