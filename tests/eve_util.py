"""Helpers for eve tests: create/follow-up, and reading streams like eve's client."""

from __future__ import annotations

import json
from typing import Any

import httpx
import trio

EVE = "/eve/v1"
BOUNDARIES = {"session.waiting", "session.completed", "session.failed"}


async def create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post(f"{EVE}/session", json=body)
    assert response.status_code == 202, response.text
    assert response.headers["x-eve-session-id"] == response.json()["sessionId"]
    created: dict[str, Any] = response.json()
    return created


async def follow_up(client: httpx.AsyncClient, sid: str, token: str, **body: Any) -> httpx.Response:
    return await client.post(f"{EVE}/session/{sid}", json={"continuationToken": token, **body})


async def read_turn(
    client: httpx.AsyncClient,
    sid: str,
    start: int = 0,
    timeout: float = 60,
    headers: dict[str, str] | None = None,
) -> bytes:
    """What eve's client does per turn: stream from ``start`` and stop at the first
    boundary. Returns the raw bytes of the lines read."""
    data = b""
    params = {"startIndex": str(start)} if start else {}
    with trio.fail_after(timeout):
        stream = client.stream("GET", f"{EVE}/session/{sid}/stream", params=params, headers=headers)
        async with stream as r:
            assert r.status_code == 200
            async for line in r.aiter_lines():
                if not line.strip():
                    continue
                data += line.encode() + b"\n"
                if json.loads(line)["type"] in BOUNDARIES:
                    return data
    raise AssertionError("stream ended before a boundary")


def events(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def types(data: bytes) -> list[str]:
    return [e["type"] for e in events(data)]
