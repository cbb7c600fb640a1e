"""``outputSchema``: checked with the ``jsonschema`` library (Draft 2020-12), within limits.

The library, not our own validator: a hand-written subset disagreed with the standard on
basic cases (``integer`` vs ``1.0``, ``$ref``, ``uniqueItems``, ``not``). It is imported
on first use (~70 ms), so a daemon that never sees an ``outputSchema`` never pays it.

Limits, so neither a client's schema nor an agent's answer can make the check expensive:
a schema is at most :data:`MAX_SCHEMA_BYTES` of JSON and :data:`MAX_DEPTH` levels deep;
an answer checked against it at most :data:`MAX_INSTANCE_BYTES` and :data:`MAX_DEPTH`.
Remote ``$ref``\\ s are never fetched (they are unresolvable, hence errors).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

#: Largest ``outputSchema`` accepted (as compact JSON); agents' schemas are a few KiB.
MAX_SCHEMA_BYTES = 64 * 1024
#: Deepest nesting of a schema or of an answer checked against it.
MAX_DEPTH = 32
#: Largest answer checked against a schema (as compact JSON).
MAX_INSTANCE_BYTES = 1024 * 1024
#: At most this many problems are reported for one answer.
MAX_ERRORS = 20


class SchemaRejected(ValueError):
    """An ``outputSchema`` that is not a usable JSON Schema (the message says why)."""


def _depth(value: Any) -> int:
    """Nesting depth of a JSON value, without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def _validator_class() -> type[Validator]:
    from jsonschema import Draft202012Validator

    return Draft202012Validator


def check_schema(schema: Any) -> None:
    """Raise :class:`SchemaRejected` unless ``schema`` is a JSON Schema we will use."""
    if not isinstance(schema, dict):
        raise SchemaRejected("Expected 'outputSchema' to be a JSON object.")
    if _depth(schema) > MAX_DEPTH:
        raise SchemaRejected(f"'outputSchema' is nested deeper than {MAX_DEPTH} levels.")
    if _size(schema) > MAX_SCHEMA_BYTES:
        raise SchemaRejected(f"'outputSchema' is larger than {MAX_SCHEMA_BYTES} bytes.")
    from jsonschema.exceptions import SchemaError

    try:
        _validator_class().check_schema(schema)
    except SchemaError as exc:
        where = "".join(f"[{p!r}]" for p in exc.absolute_path)
        raise SchemaRejected(f"'outputSchema{where}' is not valid: {exc.message}") from None


def validate(value: Any, schema: dict[str, Any]) -> list[str]:
    """Every way ``value`` fails ``schema``, as ``"<path>: <reason>"``; empty if valid."""
    if _depth(value) > MAX_DEPTH:
        return [f"$: nested deeper than {MAX_DEPTH} levels"]
    if _size(value) > MAX_INSTANCE_BYTES:
        return [f"$: larger than {MAX_INSTANCE_BYTES} bytes"]
    from referencing.exceptions import Unresolvable

    errors = []
    try:
        for error in _validator_class()(schema).iter_errors(value):
            errors.append(f"{_path(error.absolute_path)}: {error.message}")
            if len(errors) >= MAX_ERRORS:
                break
    except (Unresolvable, RecursionError) as exc:
        errors.append(f"$: the schema cannot be applied: {exc}")
    return errors


def _path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def extract_json(text: str) -> tuple[bool, Any]:
    """The JSON value in an agent's final answer: the whole text, a fenced block, or the
    outermost ``{…}``. Returns ``(found, value)``."""
    candidates = [text.strip()]
    candidates += [m.strip() for m in _FENCE.findall(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            return True, json.loads(candidate)
        except (ValueError, RecursionError):
            continue
    return False, None


def instructions(schema: Any) -> str:
    """What the harness is told when a turn carries an ``outputSchema``."""
    return (
        "When you have finished, reply with only one JSON value (no prose, no code fence) "
        "that matches this JSON Schema:\n" + json.dumps(schema, indent=2)
    )
