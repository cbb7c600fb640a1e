"""Request parsing shared by every view: integers in queries and the input body.

One parser, so ``startIndex`` means the same on the eve stream and the WebSocket, and
``afterSeq`` and ``startIndex`` refuse the same garbage: only ASCII digits (``str.isdigit``
also takes ``²`` and other scripts' digits, which ``int`` then rejects or misreads), and
at most 18 of them (a journal index fits in 63 bits; ``int()`` of a 5,000-digit string
raises).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import InvalidRequest, InvalidStartIndex

_DIGITS = re.compile(r"[0-9]{1,18}")
_SIGNED = re.compile(r"-?[0-9]{1,18}")


def parse_int(raw: str, *, signed: bool = False) -> int | None:
    """``raw`` as an integer, or None if it is not a plain decimal that fits."""
    pattern = _SIGNED if signed else _DIGITS
    return int(raw) if pattern.fullmatch(raw) else None


def start_index(query: dict[str, str]) -> int:
    """``startIndex``: a non-negative integer (default 0), else 400 ``invalid_start_index``."""
    raw = query.get("startIndex")
    if raw is None:
        return 0
    value = parse_int(raw)
    if value is None:
        raise InvalidStartIndex(
            "Expected startIndex to be a non-negative integer.", details={"startIndex": raw}
        )
    return value


def int_param(query: dict[str, str], name: str, message: str | None = None) -> int | None:
    """An optional integer query parameter; garbage is 400 ``invalid_request``."""
    raw = query.get(name)
    if raw is None:
        return None
    value = parse_int(raw, signed=True)
    if value is None:
        text = message or f"Query parameter `{name}` must be an integer between 1 and 1000."
        raise InvalidRequest(text, details={name: raw})
    return value


def input_data(body: Any, details: dict[str, Any]) -> str:
    """The ``data`` of an input body (``POST …/input`` and WebSocket input messages)."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, str):
        raise InvalidRequest("input payload requires string field `data`", details=details)
    return data
