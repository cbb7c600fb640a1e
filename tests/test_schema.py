"""outputSchema checks: the standard's answers (jsonschema, Draft 2020-12), and limits."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from coven_trio import schema


@pytest.mark.parametrize(
    ("rules", "value", "valid"),
    [
        ({"type": "integer"}, 1.0, True),  # the standard: 1.0 is an integer
        ({"type": "integer"}, 1.5, False),
        ({"type": "string"}, True, False),
        ({"$defs": {"name": {"type": "string"}}, "$ref": "#/$defs/name"}, 5, False),
        ({"$defs": {"name": {"type": "string"}}, "$ref": "#/$defs/name"}, "x", True),
        ({"type": "array", "uniqueItems": True}, [1, 1], False),
        ({"not": {"type": "string"}}, "x", False),
        ({"not": {"type": "string"}}, 3, True),
        ({"required": ["a"], "properties": {"a": {"enum": [1, 2]}}}, {"a": 3}, False),
        ({"additionalProperties": False, "properties": {"a": {}}}, {"b": 1}, False),
        ({"oneOf": [{"type": "number"}, {"type": "integer"}]}, 1, False),
        ({"anyOf": [{"type": "number"}, {"type": "string"}]}, None, False),
        ({"pattern": "^a+$"}, "aaa", True),
    ],
)
def test_answers_follow_the_standard(rules: dict[str, Any], value: Any, valid: bool) -> None:
    assert (schema.validate(value, rules) == []) is valid


def test_errors_name_the_path() -> None:
    rules = {"properties": {"items": {"items": {"type": "string"}}}}
    assert schema.validate({"items": ["a", 2]}, rules) == ["$.items[1]: 2 is not of type 'string'"]


def test_unresolvable_refs_are_errors_not_fetches() -> None:
    errors = schema.validate(1, {"$ref": "https://example.invalid/schema.json"})
    assert len(errors) == 1 and errors[0].startswith("$: the schema cannot be applied")


@pytest.mark.parametrize(
    ("rules", "reason"),
    [
        ([1, 2], "JSON object"),
        ({"type": 5}, "not valid"),
        ({"minLength": "three"}, "not valid"),
        ({"pattern": "("}, "not valid"),
        ({"properties": {"a": {"type": "strng"}}}, "not valid"),
    ],
)
def test_unusable_schemas_are_refused(rules: Any, reason: str) -> None:
    with pytest.raises(schema.SchemaRejected, match=reason):
        schema.check_schema(rules)


def test_schema_size_and_depth_are_bounded() -> None:
    deep: dict[str, Any] = {"type": "object"}
    for _ in range(schema.MAX_DEPTH):
        deep = {"properties": {"a": deep}}
    with pytest.raises(schema.SchemaRejected, match="deeper"):
        schema.check_schema(deep)
    wide = {"enum": ["x" * 1000] * 100}
    with pytest.raises(schema.SchemaRejected, match="larger"):
        schema.check_schema(wide)


def test_answer_size_and_depth_are_bounded() -> None:
    deep: Any = 1
    for _ in range(100):
        deep = [deep]
    assert schema.validate(deep, {}) == [f"$: nested deeper than {schema.MAX_DEPTH} levels"]
    big = "x" * (schema.MAX_INSTANCE_BYTES + 1)
    assert schema.validate(big, {"type": "string"}) == [
        f"$: larger than {schema.MAX_INSTANCE_BYTES} bytes"
    ]


def test_reported_errors_are_capped() -> None:
    errors = schema.validate(list(range(100)), {"items": {"type": "string"}})
    assert len(errors) == schema.MAX_ERRORS


def test_extract_json_finds_the_answer() -> None:
    assert schema.extract_json('{"a": 1}') == (True, {"a": 1})
    assert schema.extract_json('Here:\n```json\n{"a": 2}\n```') == (True, {"a": 2})
    assert schema.extract_json('prefix {"a": 3} suffix') == (True, {"a": 3})
    assert schema.extract_json("no json here") == (False, None)
    assert schema.extract_json("[" * 100_000) == (False, None)


EVIL = "(a+)+$"  # exponential for a backtracking engine on "aaaa…!"
VICTIM = "a" * 50_000 + "!"


@pytest.mark.timeout(10)  # Python's re would take longer than the universe
@pytest.mark.parametrize(
    "rules",
    [
        {"pattern": EVIL},
        {"patternProperties": {EVIL: {"type": "string"}}, "additionalProperties": False},
        {"propertyNames": {"pattern": EVIL}},
    ],
)
def test_patterns_match_in_linear_time(rules: dict[str, Any]) -> None:
    value: Any = VICTIM if "pattern" in rules else {VICTIM: 1}
    schema.check_schema(rules)
    assert schema.validate(value, rules) != []
    assert schema.validate("aaa" if "pattern" in rules else {"aaa": "x"}, rules) == []


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=a)a", r"(?<!b)a"])
def test_patterns_without_a_linear_time_match_are_refused(pattern: str) -> None:
    with pytest.raises(schema.SchemaRejected, match="linear time"):
        schema.check_schema({"properties": {"x": {"pattern": pattern}}})


def test_unevaluated_properties_with_patterns_are_refused() -> None:
    rules = {"patternProperties": {"^a": {}}, "unevaluatedProperties": False}
    with pytest.raises(schema.SchemaRejected, match="unevaluatedProperties"):
        schema.check_schema(rules)


@pytest.mark.timeout(20)
def test_a_check_stops_at_its_step_budget() -> None:
    rules = {"allOf": [{"items": {"type": "integer", "minimum": -1}} for _ in range(1000)]}
    schema.check_schema(rules)
    errors = schema.validate(list(range(10_000)), rules)
    assert errors[-1] == f"$: checking took more than {schema.MAX_STEPS} steps; simplify the schema"


async def test_validation_runs_off_the_event_loop() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await trio.lowlevel.checkpoint()

    rules = {"allOf": [{"items": {"type": "integer"}} for _ in range(100)]}
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ticker)
        errors = await schema.validate_off_loop(list(range(1000)), rules)
        nursery.cancel_scope.cancel()
    assert errors == []
    assert ticks > 1  # the loop kept turning while the check ran
