"""Masking examples from SPEC section 9 and properties over arbitrary input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bankcrm.config import Settings
from bankcrm.security.masking import (
    ACCOUNT_NUMBER,
    ID_NUMBER_DEFAULT,
    MASK,
    PHONE,
    Masker,
    MaskPattern,
    mask_account_number,
    mask_address,
    mask_email,
    mask_id_number,
    mask_name,
    mask_phone,
    masker_for,
)


@pytest.mark.parametrize(
    ("fn", "value", "masked"),
    [
        (mask_id_number, "110105199001011234", "110105199001******"),
        (mask_id_number, "11010519900101123X", "110105199001******"),
        (mask_id_number, "110105900101123", "110105900******"),  # 15-digit: still the last 6
        (mask_phone, "13812345678", "138****5678"),
        (mask_account_number, "6222021234567890123", "622202*********0123"),
        (mask_account_number, "6222021234", "622202****"),  # too short for 6+4: the tail goes first
        (mask_name, "张三", "张*"),
        (mask_name, "张三丰", "张**"),
        (mask_name, "欧阳明华", "欧阳**"),
        (mask_name, "司马光", "司马*"),
        (mask_name, "诸葛亮", "诸葛*"),
        (mask_name, "欧阳", "欧*"),  # two characters: surname 欧, given name 阳
        (mask_name, "王", "*"),
        (mask_address, "北京市朝阳区建国路88号", "北京市朝阳区****"),
        (mask_address, "浙江省杭州市西湖区文三路100号", "浙江省杭州市西湖区****"),
        (mask_address, "新疆维吾尔自治区乌鲁木齐市天山区解放路1号", "新疆维吾尔自治区乌鲁木齐市天山区****"),
        (mask_address, "阳光小区3栋", "****"),  # no city: nothing shown
        (mask_address, "88 Nanjing Road", "****"),
        (mask_email, "zhang.san@example.com", "z***@example.com"),
        (mask_email, "not-an-email", "***"),
        (mask_email, "@example.com", "***@example.com"),
    ],
)
def test_examples(fn, value: str, masked: str) -> None:
    assert fn(value) == masked


def test_none_stays_none_and_empty_stays_empty() -> None:
    for fn in (mask_id_number, mask_phone, mask_account_number, mask_name, mask_address, mask_email):
        assert fn(None) is None
    assert mask_phone("") == "" and mask_name("") == ""


def test_stricter_id_pattern_by_configuration() -> None:
    masker = Masker.from_pattern("3+0")
    assert masker.mask("id_number", "110105199001011234") == "110" + MASK * 15
    with pytest.raises(ValueError, match="FIRST\\+LAST"):
        MaskPattern.parse("three")


def test_mask_mapping_for_audit_before_after() -> None:
    out = Masker().mask_mapping(
        {"phone": "13812345678", "occupation": "teacher", "phone_enc": "k1$abc", "phone_bidx": "ff", "name": "李四"}
    )
    assert out == {"phone": "138****5678", "occupation": "teacher", "name": "李*"}


text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@given(value=text, first=st.integers(0, 20), last=st.integers(0, 20), hidden=st.integers(0, 10))
def test_pattern_never_shows_more_than_allowed(value: str, first: int, last: int, hidden: int) -> None:
    pattern = MaskPattern(first, last, hidden)
    masked = pattern.apply(value)
    assert len(masked) == len(value)
    f, la = pattern.visible(len(value))
    assert f <= first and la <= last
    assert masked[:f] == value[:f] and masked[len(value) - la :] == value[len(value) - la :]
    assert set(masked[f : len(value) - la]) <= {MASK}
    assert len(value) - f - la >= min(hidden, len(value))


@pytest.mark.parametrize("pattern", [ID_NUMBER_DEFAULT, PHONE, ACCOUNT_NUMBER])
@given(value=text)
def test_fixed_patterns_idempotent(pattern: MaskPattern, value: str) -> None:
    once = pattern.apply(value)
    assert pattern.apply(once) == once


@given(value=text)
def test_name_keeps_at_most_the_surname(value: str) -> None:
    masked = mask_name(value)
    assert masked is not None
    visible = [c for c in masked if c not in (MASK, " ")]
    assert len(visible) <= 2
    if len(value.strip()) >= 2:
        assert MASK in masked
    assert mask_name(masked) == masked


@given(value=text)
def test_address_shows_only_a_region_prefix(value: str) -> None:
    masked = mask_address(value)
    assert masked is not None and masked.endswith(MASK * 4)
    prefix = masked[:-4]
    assert value.strip().startswith(prefix)
    assert len(prefix) <= 40 and not any(ch.isdigit() for ch in prefix)
    assert mask_address(masked) == masked


@given(local=st.text(max_size=20), domain=st.text(max_size=20))
def test_email_shows_one_character_of_the_local_part(local: str, domain: str) -> None:
    value = f"{local}@{domain}".strip()
    masked = mask_email(value)
    assert masked is not None
    if "@" in masked:
        shown_local = masked.rpartition("@")[0]
        assert len(shown_local.replace(MASK, "")) <= 1
    assert mask_email(masked) == masked


@given(digits=st.from_regex(r"1[0-9]{10}", fullmatch=True))
def test_phone_hides_the_middle_four(digits: str) -> None:
    masked = mask_phone(digits)
    assert masked == digits[:3] + "****" + digits[-4:]


def test_configured_pattern_cannot_show_more_than_the_handbook_allows() -> None:
    assert masker_for(Settings(id_mask="3+0")).mask("id_number", "110105199001011234") == "110" + MASK * 15
    # asking for all 18 characters still hides the last 6
    assert masker_for(Settings(id_mask="18+0")).mask("id_number", "110105199001011234") == "110105199001******"
