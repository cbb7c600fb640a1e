"""The journal: encoding once, both views from the same bytes, cursors, the cap."""

from __future__ import annotations

import json

import pytest
import trio

from coven_trio.journal import Journal, JournalClosed


def test_lines_and_records_share_one_encoding() -> None:
    journal = Journal("ses_1", max_bytes=1 << 20)
    journal.append("session.started", {"sessionId": "ses_1", "text": 'quote " and é'})
    journal.append("session.completed")
    lines = journal.read_lines(0)[0].splitlines()
    first, last = (json.loads(x) for x in lines)
    assert first["type"] == "session.started"
    assert first["streamIndex"] == 0
    assert first["data"]["text"] == 'quote " and é'
    assert first["meta"]["at"].endswith("Z") and len(first["meta"]["at"]) == 27
    assert "data" not in last  # session.completed has no data (spec §1)
    record = json.loads(journal.event_record(0))
    assert record == {
        "seq": 1,
        "id": "ses_1:0",
        "session_id": "ses_1",
        "kind": "session.started",
        "payload_json": json.dumps(first["data"], ensure_ascii=False, separators=(",", ":")),
        "created_at": first["meta"]["at"],
    }
    assert json.loads(journal.event_record(1))["payload_json"] == "{}"


def test_read_lines_batches_by_bytes() -> None:
    journal = Journal("s", max_bytes=1 << 20)
    for i in range(100):
        journal.append("output", {"data": str(i)})
    chunk, after = journal.read_lines(10, max_bytes=500)
    assert after > 11
    assert chunk == b"".join(journal.line(i) for i in range(10, after))
    everything, end = journal.read_lines(0)
    assert end == 100 and everything.count(b"\n") == 100
    assert journal.read_lines(100) == (b"", 100)


def test_cap_drops_bulk_keeps_control_and_says_so() -> None:
    journal = Journal("s", max_bytes=300)
    journal.append("session.started", {"x": 1})
    for _ in range(10):
        journal.append("output", {"data": "y" * 50})
    kept = len(journal)
    assert kept < 11
    assert journal.append("output", {"data": "z" * 50}) is None
    journal.append("exit", {"exitCode": 0})
    types = [journal.type_of(i) for i in range(len(journal))]
    assert types[-2:] == ["output_truncated", "exit"]
    _, data, _ = journal.entry(len(journal) - 2)
    dropped = json.loads(data)
    assert dropped["droppedEvents"] == 11 - (kept - 1)
    assert dropped["droppedBytes"] > 0


async def test_readers_wake_on_append_and_stop_at_close() -> None:
    journal = Journal("s", max_bytes=1 << 20)
    got: list[list[int]] = [[] for _ in range(5)]

    async def reader(out: list[int]) -> None:
        index = 0
        while await journal.wait_past(index):
            _, index = journal.read_lines(index)
            out.append(index)

    async with trio.open_nursery() as nursery:
        for out in got:
            nursery.start_soon(reader, out)
        await trio.testing.wait_all_tasks_blocked()
        for i in range(3):
            journal.append("output", {"data": str(i)})
            await trio.testing.wait_all_tasks_blocked()
        journal.close()
    assert all(out == [1, 2, 3] for out in got)
    with pytest.raises(JournalClosed):
        journal.append("output", {"data": "late"})
