"""Every resource is bounded: journal bytes (every entry type counts), the size of one
entry, all journals together, stalled stream readers, titles."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
import trio

from coven_trio.daemon import Daemon

from ..sessions_util import events, kinds, launch, payload, wait_for_kind

pytestmark = pytest.mark.usefixtures("fakes_on_path")
MIB = 1024 * 1024


@pytest.mark.parametrize("daemon_options", [{"journal_max_bytes": 2 * MIB}])
async def test_tool_calls_and_results_count_toward_the_journal_cap(
    client: httpx.AsyncClient, daemon: Daemon, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "big_tools")
    monkeypatch.setenv("FAKE_TOOL_CALLS", "60")  # 60 x 2 x 100 KB = 12 MB of tool traffic
    sid = (await launch(client, tmp_short, harness="claude", prompt="read everything"))["id"]
    seen = await wait_for_kind(client, sid, "session.waiting")
    journal = daemon.journal(sid)
    assert journal.nbytes < 3 * MIB  # the cap, plus lifecycle entries and the last line
    truncated = [payload(r) for r in seen if r["kind"] == "output_truncated"]
    assert truncated and truncated[-1]["droppedEvents"] > 0
    # the lifecycle still arrived whole
    assert kinds(seen)[-2:] == ["turn.completed", "session.waiting"]
    await client.post(f"/api/v1/sessions/{sid}/kill")


@pytest.mark.parametrize("daemon_options", [{"max_entry_bytes": 16 * 1024}])
async def test_no_stored_entry_is_too_large_for_an_events_page(
    client: httpx.AsyncClient, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "big_tools")
    monkeypatch.setenv("FAKE_TOOL_CALLS", "3")
    big_prompt = "p" * 20_000  # message.received is lifecycle: kept, but cut to fit
    sid = (await launch(client, tmp_short, harness="claude", prompt=big_prompt))["id"]
    await wait_for_kind(client, sid, "session.waiting")
    after, pages = 0, 0
    while True:  # every entry, page by page: none is too large to be served
        page = await events(client, sid, afterSeq=after, limit=1000)
        if not page["events"]:
            break
        pages += 1
        assert all(len(r["payload_json"]) <= 2 * 16 * 1024 for r in page["events"])
        after = page["events"][-1]["seq"]
    assert pages > 1
    received = next(
        payload(r) for r in (await events(client, sid))["events"] if r["kind"] == "message.received"
    )
    assert received["message"].endswith("bytes cut]")
    await client.post(f"/api/v1/sessions/{sid}/kill")


@pytest.mark.parametrize(
    "daemon_options",
    [
        {"journals_max_bytes": 3 * MIB, "max_entry_bytes": 2 * MIB, "store": store}
        for store in ("memory", "sqlite")
    ],
    ids=["memory", "sqlite"],
)
async def test_ended_sessions_leave_memory_oldest_first_past_the_memory_budget(
    client: httpx.AsyncClient, daemon: Daemon, tmp_short: Path, daemon_options: dict[str, object]
) -> None:
    ids = []
    for _ in range(6):  # each journals ~1 MiB of output, then ends
        script = "head -c 1000000 /dev/zero | tr '\\0' x"
        record = await launch(client, tmp_short, harness="command", command=["sh", "-c", script])
        await wait_for_kind(client, record["id"], "session.completed")
        ids.append(record["id"])
        await daemon.sessions.store.flush()
    assert daemon.sessions.budget.used <= 3 * MIB
    in_memory = [s.id for s in daemon.sessions.ordered()]
    oldest = await client.get(f"/api/v1/sessions/{ids[0]}")
    listed = [r["id"] for r in (await client.get("/api/v1/sessions")).json()]
    if daemon_options["store"] == "memory":  # the newest kept, the older forgotten
        assert in_memory == ids[::-1][: len(in_memory)] and 2 <= len(in_memory) < 6
        assert oldest.status_code == 404 and listed == in_memory
    else:  # all in the store: none stays in memory, each is read back whole
        assert len(in_memory) <= 1  # the writer may be behind on the last one
        assert oldest.json()["status"] == "completed" and listed == ids[::-1]
        page = await events(client, ids[0])
        assert kinds(page["events"])[-1] == "session.completed"


@pytest.mark.parametrize("daemon_options", [{"ended_cache_bytes": 3 * MIB}])
async def test_ended_sessions_hold_at_most_the_ended_cache_however_many_there_are(
    client: httpx.AsyncClient, daemon: Daemon, tmp_short: Path
) -> None:
    ids, replays = [], {}
    for n in range(8):  # each journals ~1 MiB, then ends: 8 MiB in all
        script = f"head -c 1000000 /dev/zero | tr '\\0' {n}"
        record = await launch(client, tmp_short, harness="command", command=["sh", "-c", script])
        await wait_for_kind(client, record["id"], "session.completed")
        replays[record["id"]] = (await events(client, record["id"], limit="1000"))["events"]
        ids.append(record["id"])
    await daemon.sessions.store.flush()
    daemon.sessions.retention.retain()
    assert daemon.sessions.retention.held_bytes() <= 3 * MIB
    assert daemon.sessions.ordered() == []  # nothing ended stays in memory
    for sid in ids:  # every one reads back as it was live, from the store
        assert (await events(client, sid, limit="1000"))["events"] == replays[sid]
        assert daemon.sessions.retention.held_bytes() <= 3 * MIB


@pytest.mark.parametrize("daemon_options", [{"send_timeout": 0.5}])
async def test_a_reader_that_stops_reading_is_dropped_and_frees_its_connection(
    daemon: Daemon, tmp_short: Path, client: httpx.AsyncClient
) -> None:
    script = "while :; do head -c 65536 /dev/zero | tr '\\0' y; sleep 0.01; done"
    sid = (await launch(client, tmp_short, harness="command", command=["sh", "-c", script]))["id"]
    baseline = daemon.connections
    stalled = []
    for _ in range(5):  # readers that never read a byte of the stream
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(str(daemon.socket_path))
        sock.sendall(
            f"GET /api/v1/events?sessionId={sid}&follow=1 HTTP/1.1\r\nhost: c\r\n\r\n".encode()
        )
        stalled.append(sock)
    with trio.fail_after(20):
        while daemon.connections < baseline + 5:
            await trio.sleep(0.05)
        while daemon.connections > baseline:  # each dropped after send_timeout
            await trio.sleep(0.1)
    for sock in stalled:
        sock.close()
    assert (await client.get("/api/v1/health")).status_code == 200
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_long_titles_are_cut(client: httpx.AsyncClient, tmp_short: Path) -> None:
    record = await launch(client, tmp_short, harness="command", command=["true"], title="t" * 5000)
    assert len(record["title"]) == 200 and record["title"].endswith("…")


@pytest.mark.parametrize("daemon_options", [{"store_queue_bytes": 64 * 1024}])
async def test_an_ended_session_the_store_holds_only_in_part_stays_in_memory(
    client: httpx.AsyncClient, daemon: Daemon, tmp_short: Path
) -> None:
    """Output that outran the writer's queue is stored as stand-ins: memory has more of
    it, so the session is read from memory while it may stay."""
    script = "head -c 3000000 /dev/zero | tr '\\0' x | fold -w 100"
    record = await launch(client, tmp_short, harness="command", command=["sh", "-c", script])
    await wait_for_kind(client, record["id"], "session.completed")
    await daemon.sessions.store.flush()
    daemon.sessions.retention.retain()
    assert [s.id for s in daemon.sessions.ordered()] == [record["id"]]
    page = await events(client, record["id"], limit="1000")
    assert "output_truncated" not in kinds(page["events"])
