"""What the exporter reads and remembers: the store, read-only, and its own cursor file.

The backlog is the store itself (``<home>/coven-trio.sqlite3``): the exporter reads
committed rows through a connection of its own opened read-only (WAL lets it read while
the daemon's writer commits, and it never takes the writer's lock). ``PRAGMA
data_version`` says cheaply whether anything was committed since the last look.

What has been exported is kept in ``<home>/fleet-export.sqlite3`` (mode 0600), one row
per session: how many of its entries are in the stream (``exported``: every index below
it is), the highest stream sequence known for its subject (``seq``: where a check of the
stream resumes), and the record signature last put to the KV bucket. The file also names
its target (servers' stream, bucket, host): a cursor for another target starts over.
Every call here blocks; the exporter runs each in a worker thread.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import attrs

CURSOR_FILE = "fleet-export.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursor (
    session TEXT PRIMARY KEY,
    exported INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    record TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS target (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_ROW = "SELECT num, id, status, event_count, updated_at FROM sessions"


@attrs.frozen
class Row:
    """A session as the store last committed it (what the exporter compares)."""

    num: int
    session_id: str
    status: str
    count: int
    updated_at: str


@attrs.frozen
class Saved:
    exported: int
    seq: int
    record: str


class StoreReader:
    """A read-only view of the store's two tables."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self._version = -1

    def changed(self) -> bool:
        """Has anything been committed since the last call?"""
        (version,) = self._conn.execute("PRAGMA data_version").fetchone()
        changed = version != self._version
        self._version = version
        return bool(changed)

    def all(self) -> list[Row]:
        return [Row(*r) for r in self._conn.execute(_ROW)]

    def some(self, after: int, nums: list[int]) -> list[Row]:
        """Sessions numbered past ``after`` (new ones), and those of ``nums``."""
        sql = f"{_ROW} WHERE num > ? OR num IN (SELECT value FROM json_each(?))"
        return [Row(*r) for r in self._conn.execute(sql, (after, _ints(nums)))]

    def lines(self, num: int, start: int, stop: int, max_bytes: int) -> list[tuple[int, bytes]]:
        """Entries ``start``.. (below ``stop``) of a session, up to about ``max_bytes``."""
        rows: list[tuple[int, bytes]] = []
        size = 0
        for idx, line in self._conn.execute(
            "SELECT idx, line FROM events WHERE session = ? AND idx >= ? AND idx < ? ORDER BY idx",
            (num, start, stop),
        ):
            rows.append((idx, bytes(line)))
            size += len(line)
            if size >= max_bytes:
                break
        return rows

    def record(self, num: int) -> dict[str, Any] | None:
        """The session's record as the store shows a stored one (``_sqlite._stored``)."""
        found = self._conn.execute(
            "SELECT record, status, updated_at, event_count FROM sessions WHERE num = ?", (num,)
        ).fetchone()
        if found is None:
            return None
        record, status, updated_at, count = found
        value: dict[str, Any] = json.loads(record)
        value.update(status=status, updated_at=updated_at, event_count=count)
        return value

    def close(self) -> None:
        self._conn.close()


def _ints(nums: list[int]) -> str:
    return "[" + ",".join(str(int(n)) for n in nums) + "]"


class CursorFile:
    """``fleet-export.sqlite3``: what was exported, per session."""

    def __init__(self, home: Path, target: dict[str, str]) -> None:
        path = home / CURSOR_FILE
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600))
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.executescript(_SCHEMA)
        found = dict(self._conn.execute("SELECT key, value FROM target").fetchall())
        if found != target:  # another stream, bucket or host: what it says is not ours
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("DELETE FROM cursor")
            self._conn.execute("DELETE FROM target")
            self._conn.executemany("INSERT INTO target VALUES (?, ?)", sorted(target.items()))
            self._conn.execute("COMMIT")

    def load(self) -> dict[str, Saved]:
        rows = self._conn.execute("SELECT session, exported, seq, record FROM cursor")
        return {sid: Saved(exported, seq, record) for sid, exported, seq, record in rows}

    def save(self, rows: list[tuple[str, int, int, str]], forget: list[str]) -> None:
        """Upsert ``(session, exported, seq, record)`` rows and drop ``forget``, in one
        transaction."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR REPLACE INTO cursor VALUES (?, ?, ?, ?)", rows)
            conn.executemany("DELETE FROM cursor WHERE session = ?", [(s,) for s in forget])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._conn.close()
