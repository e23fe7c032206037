"""Fast builders of Arrow columns from NumPy arrays (ids, money, dates, Chinese text)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MONEY = pa.decimal128(18, 2)
_ID_WEIGHTS = np.array((7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), dtype=np.int64)
_CHECK_CHARS = np.frombuffer(b"10X98765432", dtype=np.uint8)


# "0000".."9999" as a (10000, 4) byte table: numbers are written four digits at a time
_BLOCKS = (48 + np.array([[(i // 10**k) % 10 for k in (3, 2, 1, 0)] for i in range(10_000)])).astype(np.uint8)


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """(n, width) matrix of ASCII digit bytes of non-negative integers, zero padded."""
    v = np.asarray(values, dtype=np.int64)
    blocks = -(-width // 4)
    parts = []
    for k in range(blocks - 1, -1, -1):
        parts.append(_BLOCKS[(v // 10 ** (4 * k)) % 10_000])
    return np.hstack(parts)[:, blocks * 4 - width :]


_DAY_SECONDS = np.arange(86_400)
# "HH:MM:SS" for every second of a day
_CLOCK = np.hstack(
    [
        _BLOCKS[_DAY_SECONDS // 3600][:, 2:],
        np.full((86_400, 1), ord(":"), np.uint8),
        _BLOCKS[_DAY_SECONDS // 60 % 60][:, 2:],
        np.full((86_400, 1), ord(":"), np.uint8),
        _BLOCKS[_DAY_SECONDS % 60][:, 2:],
    ]
)


def local_iso(seconds: np.ndarray, offset: str = "+08:00") -> pa.Array:
    """ISO 8601 text of local wall-clock seconds since 1970 with a fixed UTC offset."""
    sec = np.asarray(seconds, dtype=np.int64)
    day = sec // 86_400
    lo = int(day.min()) if day.size else 0
    span = np.arange(lo, (int(day.max()) if day.size else 0) + 1)
    text = np.datetime_as_string(span.astype("datetime64[D]")).astype("S10")
    table = np.frombuffer(text.tobytes(), dtype=np.uint8).reshape(-1, 10)
    tail = np.frombuffer(offset.encode(), dtype=np.uint8)
    n = sec.shape[0]
    return fixed_strings(
        np.hstack(
            [
                table[day - lo],
                np.full((n, 1), ord("T"), np.uint8),
                _CLOCK[sec - day * 86_400],
                np.broadcast_to(tail, (n, tail.size)),
            ]
        )
    )


def fixed_strings(matrix: np.ndarray) -> pa.Array:
    """A string array from an (n, w) byte matrix where every row is one value."""
    n, w = matrix.shape
    offsets = np.arange(n + 1, dtype=np.int32) * w
    data = np.ascontiguousarray(matrix, dtype=np.uint8).reshape(-1)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def prefixed_ids(prefix: str, *parts: tuple[np.ndarray, int]) -> pa.Array:
    """Ids like ``A00000012301``: a prefix then each integer part zero padded to its width."""
    n = parts[0][0].shape[0]
    pre = np.frombuffer(prefix.encode(), dtype=np.uint8)
    cols = [np.broadcast_to(pre, (n, pre.size))] + [digits(values, width) for values, width in parts]
    return fixed_strings(np.hstack(cols))


def money(cents: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """decimal(18,2) from integer cents, without going through Python objects."""
    c = np.asarray(cents, dtype=np.int64)
    buf = np.empty((c.shape[0], 2), dtype=np.int64)
    buf[:, 0] = c
    buf[:, 1] = c >> 63  # sign extension into the high word of the 128-bit value
    bitmap = None if valid is None else pa.py_buffer(np.packbits(valid.astype(np.uint8), bitorder="little"))
    nulls = -1 if valid is None else int((~valid).sum())
    return pa.Array.from_buffers(MONEY, c.shape[0], [bitmap, pa.py_buffer(buf)], null_count=nulls)


def dates(days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """date32 from days since 1970-01-01 (masked where not valid)."""
    mask = None if valid is None else ~valid
    return pa.array(np.asarray(days, dtype=np.int32), type=pa.date32(), mask=mask)


def pick(choices: Sequence[str | None], idx: np.ndarray) -> pa.Array:
    """choices[idx] as a string array."""
    return pa.array(list(choices), type=pa.string()).take(pa.array(np.asarray(idx, dtype=np.int64)))


def join(*arrays: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays and literals."""
    return pc.binary_join_element_wise(*arrays, "")


def id_numbers(region: np.ndarray, birth_ymd: np.ndarray, male: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """18-character resident ID numbers with valid GB 11643 check characters."""
    n = region.shape[0]
    seq = rng.integers(0, 500, n) * 2 + male.astype(np.int64)  # odd 17th digit for men
    body = np.hstack([digits(region, 6), digits(birth_ymd, 8), digits(seq, 3)])
    total = ((body.astype(np.int64) - 48) * _ID_WEIGHTS).sum(axis=1)
    check = _CHECK_CHARS[total % 11]
    return fixed_strings(np.hstack([body, check[:, None]]))


def card_numbers(bin_prefix: str, serial: np.ndarray, length: int) -> pa.Array:
    """Card/account numbers of the given length with a valid Luhn check digit."""
    n = serial.shape[0]
    pre = np.frombuffer(bin_prefix.encode(), dtype=np.uint8)
    body = np.hstack([np.broadcast_to(pre, (n, pre.size)), digits(serial, length - 1 - pre.size)])
    d = body.astype(np.int64) - 48
    # Luhn: double every second digit from the right, counting the check digit as the first
    dbl = d[:, ::-1].copy()
    dbl[:, ::2] *= 2
    dbl = np.where(dbl > 9, dbl - 9, dbl)
    check = (10 - dbl.sum(axis=1) % 10) % 10
    return fixed_strings(np.hstack([body, (48 + check)[:, None].astype(np.uint8)]))
