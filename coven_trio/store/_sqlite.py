"""The SQLite store: ``<home>/coven-trio.sqlite3``, WAL, ``synchronous=NORMAL``.

Three connections, each with one job: the writer's (group commits, ``_writer.py``), one
for reads (a worker thread at a time), one for maintenance (recovery at startup,
pruning). WAL lets the reads go on while a commit is under way. Every call into SQLite
runs in a worker thread, never on the event loop.

Durability: what a commit covered survives ``kill -9`` (WAL with ``synchronous=NORMAL``
loses only on power loss or an OS crash); at most the last group-commit window, plus
whatever was queued behind a failing disk, is lost with the process.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import trio

from .._clock import utc_now
from .._json import dumps
from ..journal import Journal
from ..vocabulary import EntryType, FailureCode, SessionStatus
from ._base import Orphan, Pruned, Store, StoredSession, StoreUnavailable
from ._schema import NewerSchema, migrate
from ._writer import Writer

#: Statuses of a session that was still going when its row was last written.
_LIVE = ("created", SessionStatus.RUNNING, SessionStatus.IDLE, "waiting")  # + older rows
_ENDED = (
    SessionStatus.COMPLETED,
    SessionStatus.FAILED,
    SessionStatus.KILLED,
    SessionStatus.ORPHANED,
)
#: Sessions forgotten per pruning transaction: pruning never holds the file for long.
PRUNE_BATCH = 50
_COLUMNS = "record, status, updated_at, event_count, processes"


def _stored(row: tuple[Any, ...]) -> StoredSession:
    record, status, updated_at, event_count, processes = row
    record = json.loads(record)
    record.update(status=status, updated_at=updated_at, event_count=event_count, pid=None)
    return StoredSession(record=record, processes=json.loads(processes))


class SqliteStore(Store):
    durable = True

    def __init__(self, path: Path, *, max_queue_bytes: int = 64 << 20) -> None:
        self.path = self._file = path
        try:
            if not path.exists():  # private from the first moment, like the socket
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600))
            write = self._connect()
            migrate(write)
            self._reader = self._connect()
            self._maintenance = self._connect()
        except (sqlite3.Error, NewerSchema, OSError) as exc:
            raise StoreUnavailable(f"cannot open the store {path}: {exc}") from None
        self._writer = Writer(write, max_queue_bytes)
        self._connections = (write, self._reader, self._maintenance)
        #: Each session's small integer key (its events' ``session`` column).
        self._keys: dict[str, int] = {}
        (self._last_key,) = write.execute("SELECT COALESCE(MAX(num), 0) FROM sessions").fetchone()
        self._reads = trio.CapacityLimiter(1)
        self._maintaining = trio.Lock()
        self.last_prune_at: str | None = None
        self._pruned_clock: float | None = None
        #: ``(when, database bytes, WAL bytes, free disk bytes)``: three syscalls that
        #: health requests share for a second (they were a tenth of a health request).
        self._files: tuple[float, int, int, int] = (-1.0, 0, 0, 0)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._file, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 5000")
        if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] != "wal":
            raise sqlite3.OperationalError("the store cannot use WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    # --- writes --------------------------------------------------------------------------

    def _key(self, session_id: str) -> int:
        key = self._keys.get(session_id)
        if key is None:
            self._last_key += 1
            key = self._keys[session_id] = self._last_key
        return key

    def save_session(self, session_id: str, record: dict[str, Any], ended: bool) -> None:
        key = self._key(session_id)
        row = (
            key,
            session_id,
            dumps(record).decode(),
            record["status"],
            record["created_at"],
            record["updated_at"],
            utc_now() if ended else None,
            record.get("conversation_id"),
            record["harness"],
        )
        self._writer.save_session(key, row)

    def append(self, session_id: str, index: int, line: bytes, lifecycle: bool) -> None:
        self._writer.append(self._key(session_id), index, line, lifecycle)

    def set_processes(self, session_id: str, processes: list[dict[str, int]]) -> None:
        self._writer.set_processes(self._key(session_id), json.dumps(processes))

    def committed(self, session_id: str, count: int) -> bool:
        key = self._keys.get(session_id)
        return key is None or self._writer.committed(key, count)

    def whole(self, session_id: str, count: int) -> bool:
        key = self._keys.get(session_id)
        return key is not None and self._writer.committed(key, count) and self._writer.whole(key)

    # --- lifecycle -----------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await self._writer.run(task_status=task_status)

    async def flush(self) -> None:
        await self._writer.flush()

    async def aclose(self) -> None:
        with trio.CancelScope(shield=True):
            for _ in range(3):  # a failing disk gets a few more tries, not forever
                await self._writer.commit_pending()
                if not self._writer.pending:
                    break
        for conn in self._connections:
            conn.close()

    # --- reads ---------------------------------------------------------------------------

    async def _read(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        def query() -> list[tuple[Any, ...]]:
            return self._reader.execute(sql, args).fetchall()

        return await trio.to_thread.run_sync(query, limiter=self._reads)

    async def get(self, session_id: str) -> StoredSession | None:
        rows = await self._read(f"SELECT {_COLUMNS} FROM sessions WHERE id = ?", session_id)
        return _stored(rows[0]) if rows else None

    async def page(self, before: tuple[str, str] | None, limit: int) -> list[dict[str, Any]]:
        if before is None:
            sql = f"SELECT {_COLUMNS} FROM sessions ORDER BY created_at DESC, id DESC LIMIT ?"
            rows = await self._read(sql, limit)
        else:
            sql = (
                f"SELECT {_COLUMNS} FROM sessions WHERE created_at < ? "
                "OR (created_at = ? AND id < ?) ORDER BY created_at DESC, id DESC LIMIT ?"
            )
            rows = await self._read(sql, before[0], before[0], before[1], limit)
        return [_stored(row).record for row in rows]

    async def lines(self, session_id: str) -> list[bytes] | None:
        found = await self._read("SELECT num FROM sessions WHERE id = ?", session_id)
        if not found:
            return None
        rows = await self._read(
            "SELECT line FROM events WHERE session = ? ORDER BY idx", found[0][0]
        )
        return [bytes(row[0]) for row in rows]

    async def find_conversation(self, conversation_id: str) -> str | None:
        rows = await self._read(
            "SELECT id FROM sessions WHERE conversation_id = ? "
            "ORDER BY created_at DESC, id DESC LIMIT 1",
            conversation_id,
        )
        return str(rows[0][0]) if rows else None

    # --- maintenance ---------------------------------------------------------------------

    async def recover(self, note: str) -> list[Orphan]:
        async with self._maintaining:
            return await trio.to_thread.run_sync(self._recover, note)

    def _recover(self, note: str) -> list[Orphan]:
        conn = self._maintenance
        marks = ",".join("?" * len(_LIVE))
        rows = conn.execute(
            f"SELECT num, id, record, processes FROM sessions WHERE status IN ({marks})", _LIVE
        ).fetchall()
        orphans = []
        for key, session_id, record, processes in rows:
            lines = [
                bytes(r[0])
                for r in conn.execute(
                    "SELECT line FROM events WHERE session = ? ORDER BY idx", (key,)
                )
            ]
            added = _orphan_entries(session_id, lines, note)
            updated = json.loads(record)
            updated.update(status=SessionStatus.ORPHANED.value, pid=None)
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT OR REPLACE INTO events VALUES (?, ?, ?)",
                [(key, len(lines) + i, line) for i, line in enumerate(added)],
            )
            conn.execute(
                "UPDATE sessions SET status = ?, record = ?, ended_at = ?, processes = '[]', "
                "event_count = ?, bytes = bytes + ?, updated_at = ? WHERE num = ?",
                (
                    SessionStatus.ORPHANED.value,
                    dumps(updated).decode(),
                    utc_now(),
                    len(lines) + len(added),
                    sum(map(len, added)),
                    utc_now(),
                    key,
                ),
            )
            conn.execute("COMMIT")
            orphans.append(Orphan(session_id=session_id, processes=json.loads(processes)))
        return orphans

    async def update_record(self, session_id: str, record: dict[str, Any]) -> None:
        text = dumps(record).decode()
        sql = "UPDATE sessions SET record = ? WHERE id = ?"
        async with self._maintaining:  # one user of the maintenance connection at a time
            await trio.to_thread.run_sync(self._maintenance.execute, sql, (text, session_id))

    async def prune(self, max_age_seconds: float | None, max_bytes: int | None) -> Pruned:
        async with self._maintaining:
            result = await trio.to_thread.run_sync(self._prune, max_age_seconds, max_bytes)
        self.last_prune_at = utc_now()
        self._pruned_clock = time.monotonic()
        return result

    def _prune(self, max_age_seconds: float | None, max_bytes: int | None) -> Pruned:
        conn = self._maintenance
        marks = ",".join("?" * len(_ENDED))
        oldest = (
            f"SELECT num, bytes, event_count FROM sessions WHERE status IN ({marks}) "
            # a session whose worktree is still there keeps its record (the only way back
            # to that work) until the worktree is discarded
            "AND json_extract(record, '$.worktree') IS NULL "
            "AND COALESCE(ended_at, updated_at) < ? ORDER BY COALESCE(ended_at, updated_at) LIMIT ?"
        )
        sessions = events = size = 0
        if max_age_seconds is not None:
            moment = time.time() - max_age_seconds
            cutoff = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment))
            cutoff += f".{int(moment % 1 * 1_000_000):06d}Z"  # utc_now()'s format
            while batch := conn.execute(oldest, (*_ENDED, cutoff, PRUNE_BATCH)).fetchall():
                sessions, events, size = _forget(conn, batch, sessions, events, size)
        if max_bytes is not None:
            (total,) = conn.execute("SELECT COALESCE(SUM(bytes), 0) FROM sessions").fetchone()
            while total > max_bytes:
                batch = []  # the oldest, just enough of them (at most a batch at a time)
                for row in conn.execute(oldest, (*_ENDED, "9999", PRUNE_BATCH)).fetchall():
                    batch.append(row)
                    total -= row[1]
                    if total <= max_bytes:
                        break
                if not batch:
                    break
                sessions, events, size = _forget(conn, batch, sessions, events, size)
        return Pruned(sessions, events, size)

    def _file_sizes(self) -> tuple[int, int, int]:
        """Database, WAL and free disk bytes, measured at most once a second."""
        now = time.monotonic()
        if now - self._files[0] >= 1.0:

            def size(path: Path) -> int:
                try:
                    return path.stat().st_size
                except OSError:
                    return 0

            try:
                disk = os.statvfs(self._file.parent)
                free = disk.f_bavail * disk.f_frsize
            except OSError:
                free = 0
            wal = size(self._file.with_name(self._file.name + "-wal"))
            self._files = (now, size(self._file), wal, free)
        return self._files[1:]

    def health(self) -> dict[str, Any] | None:
        database, wal, free = self._file_sizes()
        writer = self._writer.health()
        status = {"healthy": "ok", "pressured": "warning"}.get(writer["state"], "degraded")
        return {
            "eventWriter": writer,
            "storage": {
                "status": status,
                "path": str(self._file),
                "databaseBytes": database,
                "walBytes": wal,
                "oldestRetainedEventAt": None,  # not tracked (Coven's field, kept null)
                "lastPruneAt": self.last_prune_at,
                "pruneAgeSeconds": (
                    None
                    if self._pruned_clock is None
                    else int(time.monotonic() - self._pruned_clock)
                ),
                "lastCheckpointAt": None,  # SQLite's own WAL checkpoints, not ours to time
                "checkpointAgeSeconds": None,
                "writerBacklogEvents": writer["queuedEvents"],
                "writerBacklogBytes": writer["queuedBytes"],
                "freeDiskBytes": free,
                "maintenanceBlocked": False,
            },
        }


def _forget(
    conn: sqlite3.Connection, batch: list[tuple[Any, ...]], sessions: int, events: int, size: int
) -> tuple[int, int, int]:
    conn.execute("BEGIN IMMEDIATE")
    for key, nbytes, count in batch:
        conn.execute("DELETE FROM events WHERE session = ?", (key,))
        conn.execute("DELETE FROM sessions WHERE num = ?", (key,))
        sessions, events, size = sessions + 1, events + count, size + nbytes
    conn.execute("COMMIT")
    return sessions, events, size


def _orphan_entries(session_id: str, lines: list[bytes], note: str) -> list[bytes]:
    """The lines that end an orphaned session's journal: a failed turn if one was open,
    then ``session.failed {code: "orphaned"}`` (so tailers finish, as after any end)."""
    journal = Journal.from_lines(session_id, lines, closed=False)
    added: list[bytes] = []
    journal.sink = lambda _sid, _index, line, _lifecycle: added.append(line)
    for index in range(len(journal) - 1, -1, -1):
        kind = journal.type_of(index)
        if kind in (EntryType.TURN_COMPLETED, EntryType.TURN_FAILED):
            break
        if kind == EntryType.TURN_STARTED:
            turn = journal.get(index).data or {}
            failed = {"code": FailureCode.ORPHANED, "message": note, **turn}
            journal.append(EntryType.TURN_FAILED, failed)
            break
    if len(journal) and journal.type_of(len(journal) - 1) not in (
        EntryType.SESSION_COMPLETED,
        EntryType.SESSION_FAILED,
    ):
        journal.append(EntryType.SESSION_FAILED, {"code": FailureCode.ORPHANED, "message": note})
    return added


__all__ = ["SqliteStore", "StoreUnavailable"]
