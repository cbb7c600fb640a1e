"""Ended sessions and memory: what stays, what is read back from the store.

A live session's journal is in memory (its readers tail it). Once a session has ended
and the store holds every one of its entries as written, nothing needs its journal in
memory: it leaves memory at once, and is read back from the store when asked
(its record stays in memory for listings, its journal goes to a cache of recently read
ended journals bounded by ``ended_cache_bytes``, 64 MiB). So a daemon's memory does not
grow with the sessions it has run, however long they were. With the memory-only store
there is nowhere to read them back from, and a session whose output outran the store's
writer has more in memory than in the store: of those the newest
``max_retained_sessions`` stay (the older are forgotten, or read back as stored).

Past the journals' daemon-wide budget (``journals_max_bytes``), coven views made for
readers are dropped first, then ended sessions leave memory oldest-ended first.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from ..config import Config
from ..journal import MemoryBudget
from ..store import Store
from ._history import HistoryCache
from ._session import Session


class Retention:
    def __init__(self, config: Config, store: Store, sessions: dict[str, Session]) -> None:
        self.config = config
        self.store = store
        self._sessions = sessions
        self.history = HistoryCache(store, config.ended_cache_bytes)
        self.budget = MemoryBudget(config.journals_max_bytes, reclaim=self.reclaim)
        #: Ids of ended sessions still in memory, oldest end first.
        self._ended: dict[str, None] = {}
        #: Records of ended sessions that left memory (the store has them), newest last.
        self.records: OrderedDict[str, dict[str, Any]] = OrderedDict()

    @property
    def pending(self) -> bool:
        """Ended sessions still wait for the store before they can leave memory."""
        return bool(self._ended)

    def ended(self, session: Session) -> None:
        self._ended[session.id] = None
        self.retain()

    def retain(self) -> None:
        """Let ended sessions leave memory: every one the store holds whole; past
        ``max_retained_sessions``, the oldest of the others (the memory-only store's, or
        one whose output outran the store's writer: memory has more of it)."""
        for session_id in list(self._ended):
            session = self._sessions.get(session_id)
            if session is None or self.store.whole(session_id, len(session.journal)):
                self._leave(session_id)
        while len(self._ended) > self.config.max_retained_sessions:
            if not self._leave_oldest():
                break
        self.budget.over()  # reclaims past the memory budget too

    def reclaim(self) -> None:
        """The journals' memory budget is spent: drop the coven views made for readers
        (remade on the next read), then ended sessions, oldest-ended first, until it is
        not (or none can go yet)."""
        if self.budget.views:
            for session in self._sessions.values():
                session.journal.drop_view()
        while self.budget.used > self.budget.limit:
            if not self._leave_oldest():
                break

    def _leave_oldest(self) -> bool:
        return any(self._leave(session_id) for session_id in list(self._ended))

    def _leave(self, session_id: str) -> bool:
        """``session_id`` leaves memory if the store has all of it; False if not yet
        (the writer is behind: the next end or tick tries again)."""
        session = self._sessions.get(session_id)
        if session is not None and not self.store.committed(session_id, len(session.journal)):
            return False
        del self._ended[session_id]
        if session is None:
            return True
        del self._sessions[session_id]
        session.journal.release()
        if self.store.durable:  # read back from the store from now on
            self.records[session_id] = session.describe()
            while len(self.records) > self.config.max_retained_sessions:
                self.records.popitem(last=False)
            self.history.keep(session_id, session.journal)
        return True

    def held_bytes(self) -> int:
        """Journal bytes held for ended sessions (in memory, and in the cache)."""
        ended = sum(self._sessions[i].journal.nbytes for i in self._ended if i in self._sessions)
        return ended + self.history.nbytes
