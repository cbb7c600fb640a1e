"""Sessions that are no longer in memory: read back from the store, read-only.

A :class:`Historical` session answers the same questions a live one does (its record,
its journal, that it is not live), so every view serves ended and previous-daemon
sessions through one path. Loaded journals are kept in a small cache bounded by bytes,
so paging through one long session does not reload it for every page.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import attrs

from ..journal import Journal
from ..store import Store
from ..vocabulary import SessionStatus

#: Journals of ended sessions kept loaded at once (bytes of their lines): the default of
#: ``Config.ended_cache_bytes``.
HISTORY_CACHE_BYTES = 64 * 1024 * 1024


@attrs.define(eq=False)
class Historical:
    """A session the store knows and memory does not."""

    id: str
    stored: dict[str, Any]
    journal: Journal | None = None

    live = False

    @property
    def status(self) -> str:
        return str(self.stored["status"])

    def describe(self) -> dict[str, Any]:
        return self.stored


class HistoryCache:
    """Recently read ended journals, the least recently read dropped first. A journal
    larger than the whole cache is served to its reader and not kept."""

    def __init__(self, store: Store, max_bytes: int = HISTORY_CACHE_BYTES) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self._journals: OrderedDict[str, Journal] = OrderedDict()
        self.nbytes = 0

    async def journal(self, session_id: str) -> Journal | None:
        journal = self._journals.get(session_id)
        if journal is not None:
            self._journals.move_to_end(session_id)
            return journal
        lines = await self.store.lines(session_id)
        if lines is None:
            return None
        journal = Journal.from_lines(session_id, lines)
        self.keep(session_id, journal)
        return journal

    def keep(self, session_id: str, journal: Journal) -> None:
        """Cache ``journal`` (if it fits), dropping the least recently read."""
        self.forget(session_id)
        if journal.nbytes > self.max_bytes:
            return
        self._journals[session_id] = journal
        self.nbytes += journal.nbytes
        while self.nbytes > self.max_bytes:
            _, dropped = self._journals.popitem(last=False)
            self.nbytes -= dropped.nbytes

    def forget(self, session_id: str) -> None:
        journal = self._journals.pop(session_id, None)
        if journal is not None:
            self.nbytes -= journal.nbytes


def merge_pages(
    memory: list[dict[str, Any]], stored: list[dict[str, Any]], limit: int
) -> list[dict[str, Any]]:
    """One page, newest first, from what memory and the store each hold (memory's record
    wins: it is current); ``memory`` and ``stored`` already start after the cursor."""
    seen = {record["id"] for record in memory}
    merged = memory + [record for record in stored if record["id"] not in seen]
    merged.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
    return merged[:limit]


#: Statuses of a stored session whose daemon is gone: shown as it was left.
ENDED = frozenset(
    {
        SessionStatus.COMPLETED,
        SessionStatus.FAILED,
        SessionStatus.KILLED,
        SessionStatus.ORPHANED,
    }
)
