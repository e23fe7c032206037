"""GB 11643 ID numbers and mobile numbers: property tests against an independent formulation."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from bankcrm.customers.identity import id_birth_date, id_check_char, is_valid_id_number, is_valid_phone

digits17 = st.text(alphabet="0123456789", min_size=17, max_size=17)


def _iso7064_mod11_2(first17: str) -> str:
    """ISO 7064 MOD 11-2, the standard's own definition: weights are 2^(i) mod 11 from the right."""
    total = 0
    for i, ch in enumerate(reversed(first17), start=2):
        total += int(ch) * pow(2, i - 1, 11)
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


@given(digits17)
def test_check_char_matches_iso7064(first17: str) -> None:
    assert id_check_char(first17) == _iso7064_mod11_2(first17)


@given(digits17)
def test_number_with_its_check_char_is_valid(first17: str) -> None:
    assert is_valid_id_number(first17 + id_check_char(first17))


@given(digits17, st.sampled_from("0123456789X"))
def test_any_other_check_char_is_invalid(first17: str, last: str) -> None:
    if last != id_check_char(first17):
        assert not is_valid_id_number(first17 + last)


@given(digits17, st.integers(min_value=0, max_value=16), st.integers(min_value=1, max_value=9))
def test_single_digit_error_is_caught(first17: str, pos: int, delta: int) -> None:
    good = first17 + id_check_char(first17)
    changed = good[:pos] + str((int(good[pos]) + delta) % 10) + good[pos + 1 :]
    assert not is_valid_id_number(changed)


def test_known_number_and_lower_case_x() -> None:
    assert is_valid_id_number("11010519491231002X")
    assert is_valid_id_number("11010519491231002x")
    assert id_birth_date("11010519491231002X") == date(1949, 12, 31)
    assert not is_valid_id_number("1101051949123100")  # too short
    assert not is_valid_id_number("11010519491231002Y")


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_phone_eleven_digits_starting_with_one(rest: str) -> None:
    assert is_valid_phone("1" + rest)


@given(st.text(min_size=0, max_size=14))
def test_phone_rejects_everything_else(value: str) -> None:
    expected = len(value) == 11 and value.isascii() and value.isdigit() and value[0] == "1"
    assert is_valid_phone(value) == expected


def test_shape_is_strict() -> None:
    assert not is_valid_phone(" 13812345678")
    assert not is_valid_phone("13812345678\n")
    assert not is_valid_phone("1٣812345678")  # Arabic-Indic digit
    good = "11010519491231002X"
    assert not is_valid_id_number(good + "\n")
    assert not is_valid_id_number(" " + good[:-1])
