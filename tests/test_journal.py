"""The journal: encoding once, both views from the same bytes, cursors, the cap."""

from __future__ import annotations

import json

import pytest
import trio

from coven_trio import records
from coven_trio.journal import Journal, JournalClosed, MemoryBudget
from coven_trio.records import read


def event_record(journal: Journal, index: int) -> bytes:
    return records.event_record(journal.session_id, index, journal.line(index))


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
    record = json.loads(event_record(journal, 0))
    assert record == {
        "seq": 1,
        "id": "ses_1:0",
        "session_id": "ses_1",
        "kind": "session.started",
        "payload_json": json.dumps(first["data"], ensure_ascii=False, separators=(",", ":")),
        "created_at": first["meta"]["at"],
    }
    assert json.loads(event_record(journal, 1))["payload_json"] == "{}"


def _records_one_by_one(journal: Journal, start: int, stop: int) -> bytes:
    return b"".join(event_record(journal, i) + b"\n" for i in range(start, stop))


def test_coven_records_are_made_once_and_read_as_the_entries_land() -> None:
    budget = MemoryBudget(limit=1 << 30)
    journal = Journal("ses_r", max_bytes=1 << 20, budget=budget)
    for i in range(50):
        journal.append("output", {"data": f'line {i} "quoted"'})
    used = budget.used
    chunk, after = read(journal, 0)
    assert after == 50 and chunk == _records_one_by_one(journal, 0, 50)
    assert budget.used > used  # the kept records count against the memory budget
    journal.append("session.completed")  # a later read extends what was made
    assert read(journal, 48) == (_records_one_by_one(journal, 48, 51), 51)
    assert read(journal, 10, max_entries=3) == (_records_one_by_one(journal, 10, 13), 13)
    first = read(journal, 0, max_bytes=300)
    assert first[1] < 51 and first[0] == _records_one_by_one(journal, 0, first[1])
    journal.drop_view()
    assert budget.used == used + len(journal.line(50))  # only the lines are held now


def test_coven_records_are_made_per_read_when_memory_is_short() -> None:
    budget = MemoryBudget(limit=1 << 20)
    journal = Journal("ses_s", max_bytes=1 << 20, budget=budget)
    for i in range(60):
        journal.append("output", {"data": f"x{i:04}" * 8})
    held = budget.used
    budget.limit = held + 500  # records for a 1,000-byte read would not fit beside them
    chunk, after = read(journal, 5, max_bytes=1000)
    assert 5 < after < 60 and chunk == _records_one_by_one(journal, 5, after)
    assert len(chunk) <= 1000 and budget.used == held  # nothing was kept


def test_a_first_coven_reader_makes_records_a_batch_at_a_time() -> None:
    budget = MemoryBudget(limit=1 << 30)
    journal = Journal("ses_b", max_bytes=1 << 30, budget=budget)
    for i in range(2_000):
        journal.append("output", {"data": f"line {i}"})
    chunk, after = read(journal, 0, max_bytes=4_000)
    assert chunk == _records_one_by_one(journal, 0, after) and after < 100
    assert 4_000 <= budget.views < 4_000 + 200  # this read's batch, not all 2,000
    index, pages = 0, 0
    while index < len(journal):  # read on: the rest is made as the reader reaches it
        chunk, index = read(journal, index, max_bytes=4_000)
        pages += 1
    assert index == 2_000 and pages > 20
    assert read(journal, 0, max_bytes=1 << 30)[0] == _records_one_by_one(journal, 0, 2_000)


def test_a_follower_of_the_live_tail_keeps_only_the_records_after_it() -> None:
    budget = MemoryBudget(limit=1 << 30)
    journal = Journal("ses_t", max_bytes=1 << 30, budget=budget)
    for i in range(1_000):
        journal.append("output", {"data": f"old {i}"})
    assert read(journal, 1_000) == (b"", 1_000)
    for i in range(5):
        journal.append("output", {"data": f"new {i}"})
    assert read(journal, 1_000) == (_records_one_by_one(journal, 1_000, 1_005), 1_005)
    assert budget.views == len(_records_one_by_one(journal, 1_000, 1_005))
    before = _records_one_by_one(journal, 998, 1_002)  # from before it: made for that read
    assert read(journal, 998, max_entries=4) == (before, 1_002)
    assert read(journal, 1_003) == (_records_one_by_one(journal, 1_003, 1_005), 1_005)


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
