"""Strict JSON at both edges: hostile harness lines are journaled as valid JSON (or as
text) and never hurt the daemon; request bodies that are not standard JSON are 400s."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from coven_trio import _json

from ..sessions_util import events, follow_bytes, launch, payload, strict_json, wait_for_kind

pytestmark = pytest.mark.usefixtures("fakes_on_path")


async def test_hostile_harness_lines_are_journaled_as_valid_json(
    client: httpx.AsyncClient, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calm = (await launch(client, tmp_short, harness="claude", prompt="calm"))["id"]
    await wait_for_kind(client, calm, "session.waiting")
    monkeypatch.setenv("FAKE_HARNESS_MODE", "hostile")
    sid = (await launch(client, tmp_short, harness="claude", prompt="hi"))["id"]
    seen = await wait_for_kind(client, sid, "session.waiting")
    assert [r["kind"] for r in seen][-1] == "session.waiting"
    # the surrogate became U+FFFD; the broken lines became text
    texts = [payload(r).get("content") for r in seen if r["kind"] == "message.appended"]
    assert "\ufffd" in texts
    outputs = "".join(payload(r)["data"] for r in seen if r["kind"] == "output")
    assert "NaN" in outputs and "1e400" in outputs and "binary" in outputs
    # every line of both views parses as strict JSON
    await client.post(f"/api/v1/sessions/{sid}/kill")
    for line in (await follow_bytes(client, sid)).splitlines():
        strict_json(line)
    async with client.stream("GET", f"/eve/v1/session/{sid}/stream") as response:
        async for line in response.aiter_lines():
            if line:
                strict_json(line.encode())
    # the daemon and the other session go on
    assert (await client.get("/api/v1/health")).status_code == 200
    assert (await client.post(f"/api/v1/sessions/{calm}/input", json={"data": "on"})).is_success
    await wait_for_kind(client, calm, "session.waiting", count=2)
    assert (await events(client, calm))["events"]


BAD_BODIES = [
    b'{"data": NaN}',
    b'{"data": Infinity}',
    b'{"data": -Infinity}',
    b'{"data": 1e400}',
    b'{"data": "\\ud800"}',
    b'{"\\udc00": "x"}',
    b'{"data": "\xff"}',
    b'{"data": ' + b"1" * 5000 + b"}",
    b"[" * 100000,
]


@pytest.mark.parametrize("body", BAD_BODIES, ids=range(len(BAD_BODIES)))
async def test_request_bodies_that_are_not_standard_json_are_400(
    client: httpx.AsyncClient, tmp_short: Path, body: bytes
) -> None:
    sid = (await launch(client, tmp_short, harness="claude", prompt="x"))["id"]
    for path in (
        "/api/v1/sessions",
        f"/api/v1/sessions/{sid}/input",
        "/api/v1/actions",
        "/eve/v1/session",
        f"/eve/v1/session/{sid}",
    ):
        response = await client.post(path, content=body)
        assert response.status_code == 400, path
        assert "error" in strict_json(response.content), path
    assert len((await client.get("/api/v1/sessions")).json()) == 1


async def test_a_title_with_a_lone_surrogate_registers_nothing(
    client: httpx.AsyncClient, tmp_short: Path
) -> None:
    body = b'{"projectRoot":"%s","harness":"command","command":["true"],"title":"\\ud800"}'
    response = await client.post("/api/v1/sessions", content=body % str(tmp_short).encode())
    assert response.status_code == 400
    listed = await client.get("/api/v1/sessions")
    assert (listed.status_code, listed.json()) == (200, [])


def test_dumps_repairs_what_standard_json_cannot_hold() -> None:
    deep: object = 1
    for _ in range(2000):
        deep = [deep]
    repaired = {"s": "a\ud800b", "f": float("nan"), "i": float("inf"), "deep": deep}
    encoded = _json.dumps(repaired)
    value = strict_json(encoded)
    assert value["s"] == "a\ufffdb"
    assert value["f"] is None and value["i"] is None
    assert _json.TOO_DEEP in encoded.decode()
    assert _json.dumps({"fast": "path"}) == b'{"fast":"path"}'


@pytest.mark.parametrize(
    "field",
    [
        {"projectRoot": "/tmp\u0000/x"},
        {"cwd": "src\u0000"},
        {"prompt": "hi\u0000there"},
        {"title": "t\u0000"},
        {"model": "m\u0000"},
        {"harness": "command", "command": ["echo", "a\u0000b"]},
    ],
)
async def test_nul_characters_in_launch_text_are_400(
    client: httpx.AsyncClient, tmp_short: Path, field: dict[str, object]
) -> None:
    body = {"projectRoot": str(tmp_short), "harness": "claude", "prompt": "x", **field}
    response = await client.post("/api/v1/sessions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert "NUL" in response.json()["error"]["message"]
    eve = await client.post("/eve/v1/session", json={"message": "a\u0000b"})
    assert (eve.status_code, eve.json()["error"]["code"]) == (400, "invalid_body")
    assert (await client.get("/api/v1/sessions")).json() == []
