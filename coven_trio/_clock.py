"""Timestamps and ids: RFC 3339 UTC with microseconds, and time-ordered session ids."""

from __future__ import annotations

import os
import time
from typing import Any

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


#: The current second and its ``"%Y-%m-%dT%H:%M:%S.%%06dZ"`` format string.
_second: list[Any] = [-1, ""]


def utc_now() -> str:
    """Now as RFC 3339 UTC with microseconds and ``Z`` (27 characters, sorts by time).

    Called for every journal entry, so the date part is formatted once per second
    (``datetime.strftime`` per call was a tenth of the ingest path) and the rest is
    integer arithmetic and one ``%`` (half the cost of float math and an f-string).
    """
    micros = time.time_ns() // 1000
    second = micros // 1_000_000
    if second != _second[0]:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second[0], _second[1] = second, stamp + ".%06dZ"
    text: str = _second[1] % (micros - second * 1_000_000)
    return text


def _base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_ulid() -> str:
    """26 characters: 48 bits of milliseconds then 80 random bits (ULID layout)."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    return _base32(millis, 10) + _base32(rand, 16)


def new_session_id() -> str:
    return "ses_" + new_ulid()


def new_token() -> str:
    """An opaque continuation token: 128 random bits."""
    return "tok_" + os.urandom(16).hex()
