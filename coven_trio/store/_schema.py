"""The store's tables, and the migrations that bring an older file up to date.

``PRAGMA user_version`` holds the schema version; :func:`migrate` applies every step
after it in one transaction each, so a file is always at some version, never between.

* ``sessions``: one row per session — a small integer ``num`` (the key its events use),
  its record as last written (JSON, the API's shape), the columns the daemon queries
  (status, times, conversation), its live harness processes (so a restarted daemon can
  find and stop them), and its journal's size in bytes.
* ``events``: the journal, one row per entry, keyed by ``(session, idx)`` (integers, so
  rows are small and inserts cheap); ``line`` is the entry's exact eve NDJSON line, so
  what is read back is byte-identical to what live clients saw.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: sessions and their journals
    """
    CREATE TABLE sessions (
        num INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        record TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        ended_at TEXT,
        conversation_id TEXT,
        harness TEXT NOT NULL,
        processes TEXT NOT NULL DEFAULT '[]',
        event_count INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX sessions_by_time ON sessions (created_at DESC, id DESC);
    CREATE INDEX sessions_by_status ON sessions (status);
    CREATE INDEX sessions_by_conversation ON sessions (conversation_id);
    CREATE TABLE events (
        session INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        line BLOB NOT NULL,
        PRIMARY KEY (session, idx)
    ) WITHOUT ROWID;
    """,
)

VERSION = len(MIGRATIONS)


class NewerSchema(Exception):
    """The file was written by a newer coven-trio."""


def migrate(conn: sqlite3.Connection) -> int:
    """Bring ``conn``'s database to :data:`VERSION`; returns the version it had."""
    (found,) = conn.execute("PRAGMA user_version").fetchone()
    if found > VERSION:
        raise NewerSchema(f"store schema {found} is newer than this coven-trio's ({VERSION})")
    for version in range(found, VERSION):
        with conn:  # one transaction per step
            conn.executescript(
                f"BEGIN; {MIGRATIONS[version]}; PRAGMA user_version = {version + 1};"
            )
    return int(found)
