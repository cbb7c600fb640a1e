"""The store's single writer: a bounded write-behind queue, committed in batches.

Journals hand every line to :meth:`Writer.append` (synchronous, never blocks), which
queues the row exactly as it will be inserted; a trio task gathers what arrived within
:data:`GROUP_COMMIT` and commits it in one transaction in a worker thread, so no disk
write ever delays a harness or a tailer, and the thread does no Python work per row
(``executemany`` binds them in C). The queue is bounded by bytes: past the bound, a
*content* line is queued as a small ``output_truncated`` stand-in at the same index (the
stored journal stays dense, and says what it lost); lifecycle lines always queue. A
failed commit (disk full) keeps its batch and is retried; its state is in health, as
Coven's ``eventWriter`` is.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import defaultdict
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

_UPSERT = """
INSERT INTO sessions (num, id, record, status, created_at, updated_at, ended_at,
                      conversation_id, harness)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (num) DO UPDATE SET record = excluded.record, status = excluded.status,
    updated_at = MAX(sessions.updated_at, excluded.updated_at),
    ended_at = COALESCE(sessions.ended_at, excluded.ended_at),
    conversation_id = excluded.conversation_id
"""
_INSERT = "INSERT OR REPLACE INTO events (session, idx, line) VALUES (?, ?, ?)"
_PROCESSES = "UPDATE sessions SET processes = ? WHERE num = ?"
_COUNTS = """
UPDATE sessions SET bytes = bytes + ?, event_count = MAX(event_count, ?),
    updated_at = MAX(updated_at, ?) WHERE num = ?
"""


class _Batch:
    """What is waiting for the next commit."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, int, bytes]] = []  # events, as inserted
        self.sessions: dict[int, tuple[Any, ...]] = {}  # the last upsert per session
        self.processes: dict[int, str] = {}
        self.bytes: defaultdict[int, int] = defaultdict(int)
        self.counts: dict[int, int] = {}  # session -> entries durable once committed
        self.last: dict[int, bytes] = {}  # session -> its last line (for updated_at)

    def __len__(self) -> int:
        return len(self.rows) + len(self.sessions) + len(self.processes)


class Writer:
    def __init__(self, conn: sqlite3.Connection, max_queue_bytes: int) -> None:
        self._conn = conn
        self.max_queue_bytes = max_queue_bytes
        self._batch = _Batch()
        self._wakeup = trio.Event()
        self._generation = 0  # batches taken so far
        self._done = 0  # batches committed so far
        self._done_changed = trio.Event()
        self._committed: dict[int, int] = {}  # session -> entries durable
        self._in_flight = 0  # events of the batch being committed
        self.queued_bytes = 0
        self.committed_events = 0
        self.transactions = 0
        self.dropped_events = 0
        self.dropped_bytes = 0
        #: Sessions some of whose lines were stored as stand-ins (the queue was full).
        self._lossy: set[int] = set()
        self.last_error: str | None = None

    @property
    def state(self) -> str:
        if self.last_error is not None:
            return "failed"
        return "pressured" if self.queued_bytes > self.max_queue_bytes // 2 else "healthy"

    @property
    def pending(self) -> bool:
        return bool(len(self._batch))

    # --- queueing (the event loop's side) ------------------------------------------------

    def append(self, session: int, index: int, line: bytes, lifecycle: bool) -> None:
        if not lifecycle and self.queued_bytes + len(line) > self.max_queue_bytes:
            self.dropped_events += 1
            self.dropped_bytes += len(line)
            self._lossy.add(session)
            note = {"droppedBytes": len(line), "droppedEvents": 1, "reason": "store backlog"}
            line = encode_line(EntryType.OUTPUT_TRUNCATED, dumps(note), index, line_at(line))
        batch = self._batch
        batch.rows.append((session, index, line))
        batch.bytes[session] += len(line)
        batch.counts[session] = index + 1
        batch.last[session] = line
        self.queued_bytes += len(line)
        self._wakeup.set()

    def save_session(self, session: int, row: tuple[Any, ...]) -> None:
        self._batch.sessions[session] = row
        self._wakeup.set()

    def set_processes(self, session: int, processes: str) -> None:
        self._batch.processes[session] = processes
        self._wakeup.set()

    def committed(self, session: int, count: int) -> bool:
        return self._committed.get(session, 0) >= count

    def whole(self, session: int) -> bool:
        """No line of ``session`` was replaced by a stand-in."""
        return session not in self._lossy

    async def flush(self) -> None:
        """Wait until what is queued now is committed."""
        target = self._generation + (1 if self.pending else 0)
        while self._done < target:
            await self._done_changed.wait()

    # --- committing (a worker thread's side) ----------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            if not self.pending:
                self._wakeup = trio.Event()
                await self._wakeup.wait()
            await trio.sleep(GROUP_COMMIT)
            await self.commit_pending()

    async def commit_pending(self) -> None:
        """Commit what is queued now (in a worker thread); on failure keep it queued."""
        batch = self._batch
        if not len(batch):
            return
        self._batch = _Batch()
        self._generation += 1
        self._in_flight = len(batch.rows)
        try:
            await trio.to_thread.run_sync(self._commit, batch)
        except sqlite3.Error as exc:
            self._in_flight = 0
            self._requeue(batch)
            if self.last_error is None:
                log.error("store commit failed (will retry): %s", exc)
            self.last_error = str(exc)
            await trio.sleep(RETRY_DELAY)
            return
        self._in_flight = 0
        self.last_error = None
        self.transactions += 1
        self.committed_events += len(batch.rows)
        self.queued_bytes -= sum(batch.bytes.values())
        for session, count in batch.counts.items():
            self._committed[session] = max(self._committed.get(session, 0), count)
        self._done = self._generation
        self._done_changed.set()
        self._done_changed = trio.Event()

    def _requeue(self, failed: _Batch) -> None:
        """Put a failed batch back in front of what arrived meanwhile."""
        self._generation -= 1
        newer, self._batch = self._batch, failed
        failed.rows += newer.rows
        failed.sessions.update(newer.sessions)
        failed.processes.update(newer.processes)
        for session, size in newer.bytes.items():
            failed.bytes[session] += size
        failed.counts.update(newer.counts)
        failed.last.update(newer.last)

    def _commit(self, batch: _Batch) -> None:
        """One transaction for a batch."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(_UPSERT, batch.sessions.values())
            conn.executemany(_INSERT, batch.rows)
            conn.executemany(_PROCESSES, ((p, s) for s, p in batch.processes.items()))
            conn.executemany(
                _COUNTS,
                (
                    (size, batch.counts[s], line_at(batch.last[s]), s)
                    for s, size in batch.bytes.items()
                ),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def health(self) -> dict[str, Any]:
        """Coven's ``eventWriter`` shape."""
        writer: dict[str, Any] = {
            "state": self.state,
            "queuedEvents": len(self._batch.rows) + self._in_flight,
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
