"""Strict JSON at the daemon's edges, so every journal line is standard JSON.

Python's ``json`` is lenient where other languages are not: it reads and writes ``NaN``
and ``Infinity``, turns ``1e400`` into ``inf``, and keeps a lone surrogate escape
(``"\\ud800"``) as a string that cannot even be encoded to UTF-8. So:

* **requests** (:func:`loads_request`): a body must be UTF-8 JSON without ``NaN``,
  ``Infinity``, out-of-range numbers or lone surrogates — otherwise a 400;
* **harness lines** (:func:`loads_line`): the same rules, but a lone surrogate is kept (and
  repaired on the way out) so one bad character does not demote a whole message; a line
  that breaks the rules (or is nested too deep to parse) is not JSON to us, and is
  journaled as text (``output``);
* **everything written** (:func:`dumps`): compact UTF-8; if a value still holds a lone
  surrogate it is replaced by U+FFFD, a non-finite number by ``null``, and nesting past
  :data:`MAX_DEPTH` by a marker string — the slow path, taken only when the fast one
  fails. Nothing written is ever invalid, and writing never raises for the data's sake.

Both directions try ``msgspec`` first: as strict as the rules above (it refuses ``NaN``,
``1e400``, lone surrogates and invalid UTF-8; it writes a non-finite number as ``null``,
as the repair does) and several times faster than ``json`` on the per-line hot path.
What it refuses goes the ``json`` way, which decides (reject, or keep and repair).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import msgspec

#: Deepest nesting kept when a value must be repaired on the way out.
MAX_DEPTH = 64
#: Written in place of what was nested deeper than :data:`MAX_DEPTH`.
TOO_DEEP = "[nested too deep]"

_FAST_DECODE = msgspec.json.Decoder().decode
_FAST_ENCODE = msgspec.json.Encoder().encode
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_SURROGATE = re.compile("[\ud800-\udfff]")
#: A ``\\uD800``-``\\uDFFF`` escape in raw JSON text (a pair, or a lone one).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class JsonRejected(ValueError):
    """JSON that breaks the strict rules (the message says which)."""


def _reject_constant(name: str) -> Any:
    raise JsonRejected(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise JsonRejected(f"number {text[:20]} is out of range")
    return value


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite)


def _has_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _loads(raw: bytes, *, surrogates: bool = False) -> Any:
    try:
        return _FAST_DECODE(raw)
    except (msgspec.MsgspecError, RecursionError):
        pass  # the stdlib path says why, or keeps a lone surrogate
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonRejected("the body is not UTF-8") from None
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise JsonRejected("nested too deep") from None
    except JsonRejected:
        raise
    except ValueError as exc:  # JSONDecodeError, and int() past 4,300 digits
        raise JsonRejected(str(exc).split(":")[0]) from None
    if not surrogates and _SURROGATE_ESCAPE.search(raw) and _has_surrogate(value):
        raise JsonRejected("a string holds a lone surrogate")
    return value


def loads_request(body: bytes) -> Any:
    """A request body, strictly; raises :class:`JsonRejected`."""
    return _loads(body)


def loads_line(line: bytes) -> dict[str, Any] | None:
    """A harness's JSON object line, or None for anything else (text, a scalar, JSON we
    do not accept)."""
    stripped = line.strip()
    if not stripped.startswith(b"{"):
        return None
    try:
        value = _loads(stripped, surrogates=True)  # repaired on the way out
    except JsonRejected:
        return None
    return value if isinstance(value, dict) else None


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON; repairs what standard JSON cannot hold instead of raising."""
    try:
        return _FAST_ENCODE(value)
    except (msgspec.MsgspecError, TypeError, ValueError, RecursionError):
        pass
    try:
        return _ENCODER.encode(value).encode()
    except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        return _ENCODER.encode(_repair(value)).encode()


def _repair(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        return {_repair(str(k)): _repair(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_repair(v, depth + 1) for v in value]
    return value


def fit(value: Any, limit: int) -> tuple[Any, bytes]:
    """``value`` made to encode within ``limit`` bytes by cutting its longest strings
    (each cut is marked); returns the smaller value and its encoding. What still does
    not fit becomes ``{"truncated": true}``."""
    encoded = dumps(value)
    for _ in range(64):
        if len(encoded) <= limit:
            return value, encoded
        value = _repair(value)  # a private copy to cut
        holder, key, text = _longest_string(value)
        if holder is None or len(text) < 64:
            break
        raw = text.encode()
        keep = max(0, len(raw) - (len(encoded) - limit) - 64)  # escapes make it approximate
        cut = raw[:keep].decode("utf-8", "ignore")
        holder[key] = f"{cut}…[{len(raw) - len(cut.encode())} bytes cut]"
        encoded = dumps(value)
    value = {"truncated": True}
    return value, dumps(value)


def _longest_string(value: Any) -> tuple[Any, Any, str]:
    """The container, key and text of the longest string inside ``value``."""
    best: tuple[Any, Any, str] = (None, None, "")
    stack = [value]
    while stack:
        item = stack.pop()
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in pairs:
            if isinstance(child, str):
                if len(child) > len(best[2]):
                    best = (item, key, child)
            elif isinstance(child, dict | list):
                stack.append(child)
    return best
