"""``outputSchema``: checked with the ``jsonschema`` library (Draft 2020-12), within limits.

The library, not our own validator: a hand-written subset disagreed with the standard on
basic cases (``integer`` vs ``1.0``, ``$ref``, ``uniqueItems``, ``not``). It is imported
on first use (~70 ms), so a daemon that never sees an ``outputSchema`` never pays it.

Neither a client's schema nor an agent's answer can make the check expensive:

* a schema is at most :data:`MAX_SCHEMA_BYTES` of JSON and :data:`MAX_DEPTH` levels
  deep; an answer checked against it at most :data:`MAX_INSTANCE_BYTES` and
  :data:`MAX_DEPTH`;
* every regular expression (``pattern``, ``patternProperties``, and the latter's use by
  ``additionalProperties``) runs on RE2 (``google-re2``), which matches in linear time;
  Python's backtracking ``re`` would hang on ``(a+)+$``. A pattern RE2 cannot compile
  (backreferences, lookaround) is refused with the schema;
* a check stops after :data:`MAX_STEPS` keyword applications (``allOf`` of many
  schemas against a big answer), and runs in a worker thread, off the event loop.

Remote ``$ref``\\ s are never fetched (they are unresolvable, hence errors).
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import trio

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
#: Keyword applications one check may make (about a second of CPU at most).
MAX_STEPS = 200_000


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


class _TooExpensive(Exception):
    pass


_steps = threading.local()


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> Any:
    """RE2, compiled once per pattern (raises for what RE2 cannot match linearly)."""
    import re2  # type: ignore[import-untyped]

    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def _counted(keyword: Callable[..., Any]) -> Callable[..., Any]:
    def apply(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
        _steps.count = getattr(_steps, "count", 0) + 1
        if _steps.count > MAX_STEPS:
            raise _TooExpensive
        return keyword(validator, value, instance, schema)

    return apply


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not _regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        regex = _regex(pattern)
        for key, value in instance.items():
            if regex.search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Any
) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if not validator.is_type(instance, "object"):
        return
    known = schema.get("properties", {})
    regexes = [_regex(p) for p in schema.get("patternProperties", {})]
    extras = [
        key
        for key in instance
        if key not in known and not any(regex.search(key) for regex in regexes)
    ]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif additional is False and extras:
        names = ", ".join(repr(extra) for extra in sorted(extras))
        yield ValidationError(f"Additional properties are not allowed ({names} unexpected)")


@functools.cache
def _validator_class() -> type[Validator]:
    from jsonschema import Draft202012Validator, validators

    keywords = dict(Draft202012Validator.VALIDATORS)
    keywords.update(
        pattern=_pattern,
        patternProperties=_pattern_properties,
        additionalProperties=_additional_properties,
    )
    counted = {name: _counted(keyword) for name, keyword in keywords.items()}
    extended: type[Validator] = validators.extend(  # type: ignore[no-untyped-call]
        Draft202012Validator, counted
    )
    return extended


def _subschemas(schema: Any) -> Iterator[dict[str, Any]]:
    """Every object inside a schema, itself included."""
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _regexes(schema: Any) -> Iterator[str]:
    """Every regular expression a schema holds (``pattern`` values and
    ``patternProperties`` keys)."""
    for item in _subschemas(schema):
        if isinstance(item.get("pattern"), str):
            yield item["pattern"]
        if isinstance(item.get("patternProperties"), dict):
            yield from item["patternProperties"]


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
    for pattern in _regexes(schema):
        try:
            _regex(pattern)
        except Exception:  # re2.error: what RE2 cannot match in linear time
            raise SchemaRejected(
                f"pattern {pattern!r} is not supported: use a regular expression without "
                "backreferences or lookaround (it must match in linear time)"
            ) from None
    unevaluated = any("unevaluatedProperties" in item for item in _subschemas(schema))
    if unevaluated and any(True for _ in _regexes(schema)):
        raise SchemaRejected(
            "'unevaluatedProperties' together with patterns is not supported "
            "(it would match them with a backtracking engine)"
        )


def validate(value: Any, schema: dict[str, Any]) -> list[str]:
    """Every way ``value`` fails ``schema``, as ``"<path>: <reason>"``; empty if valid."""
    if _depth(value) > MAX_DEPTH:
        return [f"$: nested deeper than {MAX_DEPTH} levels"]
    if _size(value) > MAX_INSTANCE_BYTES:
        return [f"$: larger than {MAX_INSTANCE_BYTES} bytes"]
    from referencing.exceptions import Unresolvable

    errors = []
    _steps.count = 0
    try:
        for error in _validator_class()(schema).iter_errors(value):
            errors.append(f"{_path(error.absolute_path)}: {error.message}")
            if len(errors) >= MAX_ERRORS:
                break
    except (Unresolvable, RecursionError) as exc:
        errors.append(f"$: the schema cannot be applied: {exc}")
    except _TooExpensive:
        errors.append(f"$: checking took more than {MAX_STEPS} steps; simplify the schema")
    return errors


async def validate_off_loop(value: Any, schema: dict[str, Any]) -> list[str]:
    """:func:`validate` in a worker thread, so a big check never holds the event loop."""
    return await trio.to_thread.run_sync(validate, value, schema, abandon_on_cancel=True)


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
