"""PRC resident ID numbers (GB 11643-1999) and mainland mobile numbers."""

from __future__ import annotations

import re
from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_PHONE_SHAPE = re.compile(r"1[0-9]{10}")


def id_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("need exactly 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def id_birth_date(id_number: str) -> date | None:
    """The birth date encoded in positions 7-14, or None when it is not a real date."""
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None


def is_valid_id_number(id_number: str) -> bool:
    """18 ASCII characters with a correct GB 11643 check character (lower-case x accepted).

    The birth date inside the number is not judged here: the extract format rejects on the
    checksum alone, and a mismatch with birth_date is a data-quality finding, not a reject.
    """
    value = id_number.upper()
    if not _ID_SHAPE.fullmatch(value):
        return False
    return id_check_char(value[:17]) == value[17]


def normalise_id_number(id_number: str) -> str:
    return id_number.strip().upper()


def is_valid_phone(phone: str) -> bool:
    """11 digits starting with 1."""
    return bool(_PHONE_SHAPE.fullmatch(phone))


def normalise_phone(phone: str) -> str:
    return phone.strip()
