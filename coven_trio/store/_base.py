"""What every store is: the memory-only :class:`Store` (nothing survives a restart) and
the records it passes around. The SQLite store (``_sqlite.py``) keeps the same shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import trio


class StoreUnavailable(Exception):
    """The store cannot be opened (locked, corrupt, read-only, a newer schema)."""


@attrs.frozen
class StoredSession:
    """A session as the store knows it: its record (``pid`` null, status and counts as
    last committed) and the harness processes it had running."""

    record: dict[str, Any]
    processes: list[dict[str, int]]


@attrs.frozen
class Orphan:
    """A session that was live when the previous daemon stopped."""

    session_id: str
    processes: list[dict[str, int]]


@attrs.frozen
class Pruned:
    sessions: int
    events: int
    bytes: int


class Store:
    """The memory-only store: keeps nothing, finds nothing. Every store has this shape."""

    durable = False
    path: Path | None = None

    # --- writes (queued; never block the caller) ------------------------------------------

    def save_session(self, session_id: str, record: dict[str, Any], ended: bool) -> None:
        """Insert or update a session's row from its record."""

    def append(self, session_id: str, index: int, line: bytes, lifecycle: bool) -> None:
        """A journal wrote ``line`` at ``index`` (the journal's sink)."""

    def set_processes(self, session_id: str, processes: list[dict[str, int]]) -> None:
        """The session's live harness processes: ``[{pid, pgid, start}]``."""

    def committed(self, session_id: str, count: int) -> bool:
        """Are the first ``count`` entries of the session durable?"""
        return True

    def whole(self, session_id: str, count: int) -> bool:
        """Does the store hold the first ``count`` entries exactly as written (durable,
        none replaced by a stand-in because the writer's queue was full)?"""
        return False

    # --- lifecycle -----------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The writer (in the daemon's nursery)."""
        task_status.started()
        await trio.sleep_forever()

    async def flush(self) -> None:
        """Wait until everything queued so far is committed."""

    async def aclose(self) -> None:
        """Commit what is left and close (after the writer stopped)."""

    # --- reads ---------------------------------------------------------------------------

    async def get(self, session_id: str) -> StoredSession | None:
        return None

    async def page(self, before: tuple[str, str] | None, limit: int) -> list[dict[str, Any]]:
        """Records newest first (``created_at DESC, id DESC``), after the keyset
        ``before``; at most ``limit``."""
        return []

    async def lines(self, session_id: str) -> list[bytes] | None:
        """A session's journal lines, in order; None if the store has no such session."""
        return None

    async def find_conversation(self, conversation_id: str) -> str | None:
        """The newest session on ``conversation_id``."""
        return None

    async def recover(self, note: str) -> list[Orphan]:
        """At startup: sessions that were live become ``orphaned`` (``note`` in their
        journal says why); returns them with the processes they had."""
        return []

    async def update_record(self, session_id: str, record: dict[str, Any]) -> None:
        """Replace the record of a session this daemon did not run (a previous one's)."""

    async def prune(self, max_age_seconds: float | None, max_bytes: int | None) -> Pruned:
        """Forget ended sessions older than ``max_age_seconds``, then the oldest until
        the store holds at most ``max_bytes`` of journal."""
        return Pruned(0, 0, 0)

    def health(self) -> dict[str, Any] | None:
        """``eventWriter`` and ``storage`` for the health handshake (None: no store)."""
        return None
