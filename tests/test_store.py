"""The SQLite store on its own: retention, the writer's bound and failures, files it must
refuse — and a daemon whose store cannot be opened still serving, and saying so."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import coven_trio
from coven_trio.journal import encode_line, line_at
from coven_trio.store import STORE_FILE, StoreUnavailable, open_store
from coven_trio.store._sqlite import SqliteStore
from coven_trio.vocabulary import EntryType

from .sessions_util import strict_json


@pytest.fixture
async def store(tmp_short: Path) -> AsyncIterator[SqliteStore]:
    opened = open_store(tmp_short)
    assert isinstance(opened, SqliteStore)
    try:
        yield opened
    finally:
        await opened.aclose()


def record(sid: str, created: str, status: str = "completed") -> dict[str, Any]:
    return {
        "id": sid,
        "status": status,
        "created_at": created,
        "updated_at": created,
        "harness": "command",
        "conversation_id": None,
    }


def line(index: int, size: int = 1000, type_: str = "output") -> bytes:
    data = b'{"data":"' + b"x" * size + b'"}'
    return encode_line(type_, data, index, "2026-12-01T00:00:00.000000Z")


async def write_sessions(store: SqliteStore, count: int, ended: bool = True) -> list[str]:
    ids = []
    for n in range(count):
        sid = f"ses_{n:02d}"
        store.save_session(sid, record(sid, f"2026-12-01T00:00:{n:02d}.000000Z"), ended)
        for index in range(3):
            store.append(sid, index, line(index), False)
        ids.append(sid)
    await store._writer.commit_pending()
    return ids


async def test_prune_by_bytes_forgets_the_oldest_ended_sessions_first(store: SqliteStore) -> None:
    ids = await write_sessions(store, 5)
    per_session = sum(len(line(i)) for i in range(3))
    pruned = await store.prune(None, 2 * per_session)
    assert (pruned.sessions, pruned.events) == (3, 9)
    kept = [r["id"] for r in await store.page(None, 10)]
    assert kept == ids[:2:-1]  # the two newest, newest first
    assert await store.lines(ids[0]) is None


async def test_prune_by_age_keeps_live_sessions(store: SqliteStore) -> None:
    ended = await write_sessions(store, 2)
    store.save_session("ses_live", record("ses_live", "2026-12-01T00:00:09Z", "running"), False)
    await store._writer.commit_pending()
    pruned = await store.prune(0, None)
    assert pruned.sessions == len(ended)
    assert [r["id"] for r in await store.page(None, 10)] == ["ses_live"]


async def test_past_its_bound_the_queue_keeps_lifecycle_lines_and_marks_content(
    store: SqliteStore,
) -> None:
    store._writer.max_queue_bytes = 1500
    store.save_session("ses_q", record("ses_q", "2026-12-01T00:00:00Z"), False)
    store.append("ses_q", 0, line(0), False)  # fits
    store.append("ses_q", 1, line(1), False)  # over the bound: a marker
    store.append("ses_q", 2, line(2, type_=EntryType.TURN_STARTED), True)  # always queued
    await store._writer.commit_pending()
    lines = await store.lines("ses_q")
    assert lines is not None
    kinds = [strict_json(raw)["type"] for raw in lines]
    assert kinds == ["output", "output_truncated", "turn.started"]
    assert [strict_json(raw)["streamIndex"] for raw in lines] == [0, 1, 2]  # no hole
    assert line_at(lines[1]) == line_at(line(1))
    assert store.health()["eventWriter"]["droppedOutputEvents"] == 1  # type: ignore[index]


async def test_a_failing_disk_is_retried_and_reported_never_raised(store: SqliteStore) -> None:
    store.save_session("ses_d", record("ses_d", "2026-12-01T00:00:00Z"), False)
    await store._writer.commit_pending()
    store._writer._conn.execute("PRAGMA query_only = 1")  # every write now fails
    store.append("ses_d", 0, line(0), True)
    await store._writer.commit_pending()
    health = store.health()
    assert health is not None and health["eventWriter"]["state"] == "failed"
    assert health["storage"]["status"] == "degraded"
    assert health["eventWriter"]["queuedEvents"] == 1  # kept, not lost
    store._writer._conn.execute("PRAGMA query_only = 0")  # the disk has room again
    await store._writer.commit_pending()
    assert store.health()["eventWriter"]["state"] == "healthy"  # type: ignore[index]
    assert await store.lines("ses_d") == [line(0)]


def test_a_file_that_is_not_a_store_is_refused(tmp_short: Path) -> None:
    (tmp_short / STORE_FILE).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreUnavailable, match="cannot open the store"):
        open_store(tmp_short)


def test_a_store_from_a_newer_coven_trio_is_refused(tmp_short: Path) -> None:
    conn = sqlite3.connect(tmp_short / STORE_FILE)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreUnavailable, match="newer"):
        open_store(tmp_short)


async def test_a_daemon_whose_store_cannot_open_serves_from_memory_and_says_so(
    home: Path, tmp_short: Path
) -> None:
    home.mkdir(mode=0o700)
    (home / STORE_FILE).write_bytes(b"garbage" * 1000)
    async with coven_trio.open_daemon(home=home) as daemon:
        transport = httpx.AsyncHTTPTransport(uds=str(daemon.socket_path))
        async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
            health = (await client.get("/api/v1/health")).json()
            assert health["storage"]["status"] == "degraded"
            assert "cannot open the store" in health["storage"]["lastError"]
            body = {"projectRoot": str(tmp_short), "harness": "command", "command": ["true"]}
            assert (await client.post("/api/v1/sessions", json=body)).status_code == 201
