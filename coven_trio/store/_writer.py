"""The store's single writer: a bounded write-behind queue, committed in batches.

Journals hand every line to :meth:`Writer.append` (synchronous, never blocks); a trio
task gathers what arrived within :data:`GROUP_COMMIT` and commits it in one transaction
in a worker thread, so no disk write ever delays a harness or a tailer. The queue is
bounded by bytes: past the bound, a *content* line is queued as a small
``output_truncated`` stand-in at the same index (the stored journal stays dense, and says
what it lost); lifecycle lines always queue. A failed commit (disk full) keeps its batch
and is retried; its state is in health, as Coven's ``eventWriter`` is.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import trio

from .._json import dumps
from ..journal import encode_line, line_at
from ..vocabulary import EntryType

log = logging.getLogger("coven_trio.store")

#: How long the writer gathers lines before a commit: a harness's burst becomes one
#: transaction, and a tailer never waits for it (tailers read memory).
GROUP_COMMIT = 0.005
#: Wait after a failed commit before retrying it.
RETRY_DELAY = 1.0

_EVENT, _SESSION, _PROCESSES = range(3)

_UPSERT = """
INSERT INTO sessions (id, record, status, created_at, updated_at, ended_at, conversation_id,
                      harness)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET record = excluded.record, status = excluded.status,
    updated_at = MAX(sessions.updated_at, excluded.updated_at), ended_at = excluded.ended_at,
    conversation_id = excluded.conversation_id
"""
_COUNTS = """
UPDATE sessions SET event_count = MAX(event_count, ?), bytes = bytes + ?,
    updated_at = MAX(updated_at, ?) WHERE id = ?
"""


class Writer:
    def __init__(self, conn: sqlite3.Connection, max_queue_bytes: int) -> None:
        self._conn = conn
        self.max_queue_bytes = max_queue_bytes
        self._ops: list[tuple[Any, ...]] = []
        self._wakeup = trio.Event()
        self._queued = 0  # ops ever queued
        self._done = 0  # ops ever committed
        self._done_changed = trio.Event()
        self._committed: dict[str, int] = {}  # session -> entries durable
        self.queued_events = 0
        self.queued_bytes = 0
        self.committed_events = 0
        self.transactions = 0
        self.dropped_events = 0
        self.dropped_bytes = 0
        self.last_error: str | None = None

    @property
    def state(self) -> str:
        if self.last_error is not None:
            return "failed"
        return "pressured" if self.queued_bytes > self.max_queue_bytes // 2 else "healthy"

    # --- queueing (the event loop's side) ------------------------------------------------

    def _queue(self, op: tuple[Any, ...]) -> None:
        self._ops.append(op)
        self._queued += 1
        self._wakeup.set()

    def append(self, session_id: str, index: int, line: bytes, lifecycle: bool) -> None:
        if not lifecycle and self.queued_bytes + len(line) > self.max_queue_bytes:
            self.dropped_events += 1
            self.dropped_bytes += len(line)
            note = {"droppedBytes": len(line), "droppedEvents": 1, "reason": "store backlog"}
            line = encode_line(EntryType.OUTPUT_TRUNCATED, dumps(note), index, line_at(line))
        self.queued_events += 1
        self.queued_bytes += len(line)
        self._queue((_EVENT, session_id, index, line))

    def save_session(self, row: tuple[Any, ...]) -> None:
        self._queue((_SESSION, row))

    def set_processes(self, session_id: str, processes: str) -> None:
        self._queue((_PROCESSES, session_id, processes))

    def committed(self, session_id: str, count: int) -> bool:
        return self._committed.get(session_id, 0) >= count

    async def flush(self) -> None:
        target = self._queued
        while self._done < target:
            await self._done_changed.wait()

    # --- committing (a worker thread's side) ----------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            if not self._ops:
                self._wakeup = trio.Event()
                await self._wakeup.wait()
            await trio.sleep(GROUP_COMMIT)
            await self.commit_pending()

    async def commit_pending(self) -> None:
        """Commit what is queued now (in a worker thread); on failure keep it queued."""
        ops, self._ops = self._ops, []
        if not ops:
            return
        try:
            counts = await trio.to_thread.run_sync(self._commit, ops)
        except sqlite3.Error as exc:
            self._ops[:0] = ops
            if self.last_error is None:
                log.error("store commit failed (will retry): %s", exc)
            self.last_error = str(exc)
            await trio.sleep(RETRY_DELAY)
            return
        self.last_error = None
        self.transactions += 1
        events = [op for op in ops if op[0] == _EVENT]
        self.committed_events += len(events)
        self.queued_events -= len(events)
        self.queued_bytes -= sum(len(op[3]) for op in events)
        for session_id, count in counts.items():
            self._committed[session_id] = max(self._committed.get(session_id, 0), count)
        self._done += len(ops)
        self._done_changed.set()
        self._done_changed = trio.Event()

    def _commit(self, ops: list[tuple[Any, ...]]) -> dict[str, int]:
        """One transaction for a batch; returns each session's durable entry count."""
        conn = self._conn
        events: list[tuple[str, int, bytes]] = []
        counts: dict[str, list[Any]] = {}  # session -> [count, bytes, last at]
        conn.execute("BEGIN IMMEDIATE")
        try:
            for op in ops:
                if op[0] == _EVENT:
                    _, session_id, index, line = op
                    events.append((session_id, index, line))
                    stat = counts.setdefault(session_id, [0, 0, ""])
                    stat[0] = max(stat[0], index + 1)
                    stat[1] += len(line)
                    stat[2] = line_at(line)
                elif op[0] == _SESSION:
                    conn.execute(_UPSERT, op[1])
                else:
                    conn.execute("UPDATE sessions SET processes = ? WHERE id = ?", (op[2], op[1]))
            conn.executemany("INSERT OR REPLACE INTO events VALUES (?, ?, ?)", events)
            for session_id, (count, size, at) in counts.items():
                conn.execute(_COUNTS, (count, size, at, session_id))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return {session_id: stat[0] for session_id, stat in counts.items()}

    def health(self) -> dict[str, Any]:
        """Coven's ``eventWriter`` shape."""
        writer: dict[str, Any] = {
            "state": self.state,
            "queuedEvents": self.queued_events,
            "queuedBytes": self.queued_bytes,
            "capacityBytes": self.max_queue_bytes,
            "droppedOutputEvents": self.dropped_events,
            "droppedOutputBytes": self.dropped_bytes,
            "connectionOpens": 1,
            "transactions": self.transactions,
            "committedEvents": self.committed_events,
        }
        if self.last_error is not None:
            writer["lastError"] = self.last_error
        return writer
