"""Helpers for session tests: launch, follow the NDJSON tail, inspect processes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import trio

#: What these tests mean when they name no mode: sessions that take follow-ups. (A
#: Coven launch without a mode is a one-shot run: tests/test_coven_clients.py.)
TURN_MODES = {"claude": "stream", "codex": "nonInteractive"}


def with_turns(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with the mode these tests mean when it names none."""
    if body.get("harness") in TURN_MODES and body.get("prompt") and "launchMode" not in body:
        body = {**body, "launchMode": TURN_MODES[body["harness"]]}
    if body.get("launchMode") == "nonInteractive":
        body.setdefault("followUps", True)
    return body


async def launch(client: httpx.AsyncClient, root: Path, **body: Any) -> dict[str, Any]:
    body = with_turns(body)
    payload = {"projectRoot": str(root), **body}
    response = await client.post("/api/v1/sessions", json=payload)
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


async def events(client: httpx.AsyncClient, session_id: str, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/events", params={"sessionId": session_id, **params})
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def wait_for_kind(
    client: httpx.AsyncClient, session_id: str, kind: str, count: int = 1, timeout: float = 60
) -> list[dict[str, Any]]:
    """Follow the session until ``count`` entries of ``kind`` arrived (or it ended)."""
    seen: list[dict[str, Any]] = []
    with trio.fail_after(timeout):
        async with client.stream(
            "GET", "/api/v1/events", params={"sessionId": session_id, "follow": "1"}
        ) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if not line:
                    continue
                record = json.loads(line)
                seen.append(record)
                if sum(r["kind"] == kind for r in seen) >= count:
                    return seen
    raise AssertionError(f"session ended before {count} x {kind}: {[r['kind'] for r in seen]}")


async def follow_bytes(client: httpx.AsyncClient, session_id: str, after: int = 0) -> bytes:
    """Everything the follow stream sends, until the session's journal closes."""
    chunks = []
    async with client.stream(
        "GET",
        "/api/v1/events",
        params={"sessionId": session_id, "follow": "1", "afterSeq": str(after)},
    ) as response:
        assert response.status_code == 200
        async for chunk in response.aiter_raw():
            chunks.append(chunk)
    return b"".join(chunks)


def kinds(records: list[dict[str, Any]]) -> list[str]:
    return [r["kind"] for r in records]


def payload(record: dict[str, Any]) -> Any:
    return json.loads(record["payload_json"])


def live_pids_in_group(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are alive (zombies do not count)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state not in ("Z", "X"):
            found.append(int(entry))
    return found


def _stats() -> list[tuple[int, str, int, int]]:
    """``(pid, state, ppid, pgrp)`` of every process."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        found.append((int(entry), fields[0], int(fields[1]), int(fields[2])))
    return found


def zombie_children(ppid: int) -> list[int]:
    """Zombie children of ``ppid`` (exited, never reaped)."""
    return [pid for pid, state, parent, _ in _stats() if parent == ppid and state == "Z"]


def in_groups(pgids: set[int]) -> list[int]:
    """Every process (zombies too) in one of the process groups ``pgids``."""
    return [pid for pid, _, _, pgrp in _stats() if pgrp in pgids]


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in ("Z", "X")


def argv_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def strict_json(line: bytes) -> Any:
    """Parse ``line`` as another language would: UTF-8, no NaN/Infinity, no lone
    surrogates. Raises ValueError otherwise."""

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    value = json.loads(line.decode("utf-8"), parse_constant=no_constants)
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            item.encode("utf-8")  # a lone surrogate cannot be encoded
        elif isinstance(item, float) and item in (float("inf"), float("-inf")):
            raise ValueError("infinite number")
        elif isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            stack += item
    return value
