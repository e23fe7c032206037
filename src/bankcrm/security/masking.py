"""Masked display of personal data (SPEC section 9): the default for every page, response, export and log.

Each masker keeps a fixed, small part of the value and replaces the rest with ``*``. They accept
any string (short, empty, already masked, odd characters) without failing, never show more
than their pattern allows, and masking a masked value changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bankcrm.config import Settings

MASK = "*"

# two-character surnames (复姓) kept whole; any other name keeps its first character
_COMPOUND_SURNAME_TEXT = (
    "欧阳 太史 端木 上官 司马 东方 独孤 南宫 万俟 闻人 夏侯 诸葛 尉迟 公羊 赫连 澹台 皇甫 宗政 濮阳 公冶 "
    "太叔 申屠 公孙 慕容 仲孙 钟离 长孙 宇文 司徒 鲜于 司空 闾丘 子车 亓官 司寇 巫马 公西 颛孙 壤驷 公良 "
    "漆雕 乐正 宰父 谷梁 拓跋 夹谷 轩辕 令狐 段干 百里 呼延 东郭 南门 羊舌 微生 左丘 西门 第五 南荣 东里 "
    "即墨 达奚 褚师 梁丘 公仪 东宫 仲长 子桑 "
)
COMPOUND_SURNAMES = frozenset(_COMPOUND_SURNAME_TEXT.split())


@dataclass(frozen=True)
class MaskPattern:
    """Show at most ``keep_first`` leading and ``keep_last`` trailing characters, and always hide
    at least ``min_hidden`` (short values give up their trailing, then leading, characters)."""

    keep_first: int
    keep_last: int
    min_hidden: int

    def visible(self, length: int) -> tuple[int, int]:
        """How many leading and trailing characters a value of this length shows."""
        budget = max(0, length - self.min_hidden)
        first = min(self.keep_first, budget)
        last = min(self.keep_last, budget - first)
        return first, last

    def apply(self, value: str) -> str:
        first, last = self.visible(len(value))
        return value[:first] + MASK * (len(value) - first - last) + value[len(value) - last :]

    @classmethod
    def parse(cls, text: str, *, min_hidden: int = 6) -> MaskPattern:
        """``"12+0"`` → first 12, last 0 (the handbook's "hide the last 6" for an 18-character ID)."""
        first, sep, last = text.partition("+")
        if not sep or not first.strip().isdigit() or not last.strip().isdigit():
            raise ValueError(f"{text!r}: expected FIRST+LAST, e.g. 12+0 or 3+0")
        return cls(int(first), int(last), min_hidden)


# the handbook: hide the last 6 characters of an ID number (110105199001******)
ID_NUMBER_DEFAULT = MaskPattern(keep_first=12, keep_last=0, min_hidden=6)
PHONE = MaskPattern(keep_first=3, keep_last=4, min_hidden=4)
ACCOUNT_NUMBER = MaskPattern(keep_first=6, keep_last=4, min_hidden=4)


def mask_id_number(value: str | None, pattern: MaskPattern = ID_NUMBER_DEFAULT) -> str | None:
    return None if value is None else pattern.apply(value)


def mask_phone(value: str | None) -> str | None:
    return None if value is None else PHONE.apply(value)


def mask_account_number(value: str | None) -> str | None:
    return None if value is None else ACCOUNT_NUMBER.apply(value)


def surname_length(name: str) -> int:
    """1, or 2 for a compound surname followed by at least one given-name character."""
    if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES:
        return 2
    return 1


def mask_name(value: str | None) -> str | None:
    """Keep the surname: 张三 → 张*, 欧阳明华 → 欧阳**; a one-character value is hidden entirely."""
    if value is None:
        return None
    name = value.strip()
    if len(name) <= 1:
        return MASK * len(name)
    keep = surname_length(name)
    return name[:keep] + "".join(" " if ch == " " else MASK for ch in name[keep:])


_ADMIN_PART = r"[^\d\s*省市区县]"
_PROVINCE = re.compile(rf"{_ADMIN_PART}{{2,7}}?(?:省|自治区|特别行政区)")
_CITY = re.compile(rf"{_ADMIN_PART}{{2,8}}?(?:市|自治州|地区|盟|州)")
_DISTRICT = re.compile(rf"{_ADMIN_PART}{{1,8}}?(?:区|县|旗|市)")
ADDRESS_MASK = MASK * 4


def address_region(value: str) -> str:
    """The province/city/district prefix of a mainland address ('' when there is none).

    A district is only taken after a province or city, so a bare "阳光小区" reveals nothing.
    """
    pos = 0
    found_region = False
    for part in (_PROVINCE, _CITY):
        m = part.match(value, pos)
        if m:
            pos, found_region = m.end(), True
    if found_region:
        m = _DISTRICT.match(value, pos)
        if m:
            pos = m.end()
    return value[:pos]


def mask_address(value: str | None) -> str | None:
    """北京市朝阳区建国路88号 → 北京市朝阳区****; the rest (street, number) is never shown, nor its length."""
    if value is None:
        return None
    return address_region(value.strip()) + ADDRESS_MASK


def mask_email(value: str | None) -> str | None:
    """zhang.san@example.com → z***@example.com."""
    if value is None:
        return None
    local, at, domain = value.strip().rpartition("@")
    if not at:
        return MASK * 3
    keep = local[:1].replace(MASK, "")  # an already masked local part gives up nothing more
    return keep + MASK * 3 + "@" + domain


def mask_text(value: str | None) -> str | None:
    """Anything sensitive without a specific pattern: fully hidden."""
    return None if value is None else MASK * 3


@dataclass(frozen=True)
class Masker:
    """The masking functions with the configured ID pattern."""

    id_pattern: MaskPattern = ID_NUMBER_DEFAULT

    @classmethod
    def from_pattern(cls, id_mask: str) -> Masker:
        return cls(MaskPattern.parse(id_mask))

    def functions(self) -> dict[str, Callable[[str | None], str | None]]:
        return {
            "id_number": lambda v: mask_id_number(v, self.id_pattern),
            "phone": mask_phone,
            "account_number": mask_account_number,
            "name": mask_name,
            "address": mask_address,
            "email": mask_email,
        }

    def mask(self, field: str, value: str | None) -> str | None:
        """Mask a value of a named sensitive field; unknown field names are hidden entirely."""
        fn = self.functions().get(field, mask_text)
        return fn(value)

    def mask_mapping(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """A copy with sensitive fields masked and ciphertext/blind-index columns dropped (for audit before/after)."""
        functions = self.functions()
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key.endswith(("_enc", "_bidx")):
                continue
            if key in functions and value is not None:
                out[key] = functions[key](str(value))
            else:
                out[key] = value
        return out


SENSITIVE_FIELDS = frozenset(Masker().functions())


def masker_for(settings: Settings) -> Masker:
    """The masker with the configured ID pattern (never fewer than 6 characters hidden)."""
    return Masker.from_pattern(settings.id_mask)
