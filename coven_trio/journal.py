"""The per-session journal: an append-only arena of pre-encoded eve NDJSON lines.

Each entry is encoded exactly once, at append, as its eve line
``{"type":T,"data":D,"streamIndex":i,"meta":{"at":A}}\\n`` into one ``bytearray``; an
``array('Q')`` holds where each line ends. A replay is one slice of the arena, however
many entries it spans. The coven view (EventRecord) is cut from the same bytes: ``type``,
``data`` and ``at`` sit at offsets fixed by the line's layout (:func:`parts`), so no entry
is ever parsed or re-encoded to be read; the coven view is made by
:mod:`coven_trio.records` and kept with the journal (:attr:`Journal.view`).

Readers keep their own cursor (an index). ``append`` wakes every parked reader through
one ``trio.Event`` per journal, so a reader that fell behind takes everything available
in one batch; nothing is queued per reader, so a slow reader only lags.

Bounds (every entry counts toward them):

* an entry's data is at most ``max_entry_bytes`` encoded, so any entry fits a page of the
  events API: a larger content entry is dropped, a larger lifecycle entry keeps its shape
  with its longest strings cut;
* past ``max_bytes``, and while the daemon-wide :class:`MemoryBudget` is spent, content
  entries (output, deltas, messages, tool calls and results, native events) are dropped
  and counted; lifecycle entries (:data:`LIFECYCLE_TYPES`) always land. The first entry
  kept after a drop is ``output_truncated {droppedBytes, droppedEvents}`` (running
  totals for the session): never silent;
* past ``hard_max_bytes`` the journal is :attr:`~Journal.full`: its session ends.
"""

from __future__ import annotations

import json
from array import array
from bisect import bisect_right
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import attrs
import trio

from . import _json
from ._clock import utc_now
from .vocabulary import EntryType

#: Entries that tell the session's lifecycle: never dropped (only cut to the entry size
#: limit). Everything else is content, which the caps may drop.
LIFECYCLE_TYPES = frozenset(
    {
        EntryType.SESSION_STARTED,
        EntryType.TURN_STARTED,
        EntryType.MESSAGE_RECEIVED,
        EntryType.INPUT_REQUESTED,
        EntryType.INPUT_RESOLVED,
        EntryType.RESULT_COMPLETED,
        EntryType.TURN_COMPLETED,
        EntryType.TURN_FAILED,
        EntryType.TURN_CANCELLED,
        EntryType.CONTEXT_CLEARED,
        EntryType.COMPACTION_REQUESTED,
        EntryType.COMPACTION_COMPLETED,
        EntryType.SESSION_WAITING,
        EntryType.SESSION_COMPLETED,
        EntryType.SESSION_FAILED,
        EntryType.INPUT,
        EntryType.KILL,
        EntryType.EXIT,
        EntryType.OUTPUT_TRUNCATED,
    }
)

_AT_LEN = 27  # utc_now(): 2026-11-24T10:00:00.000000Z
_LINE_TAIL = len(b'"}}\n')
_META = b',"meta":{"at":"'
_SEQ = b',"streamIndex":'
#: The eve line, filled in one formatting step (one allocation per entry).
_LINE = b'{"type":"%s","data":%s' + _SEQ + b"%d" + _META + b'%s"}}\n'
_LINE_NO_DATA = b'{"type":"%s"' + _SEQ + b"%d" + _META + b'%s"}}\n'


_encode = _json.dumps


def encode_line(type_: str, encoded: bytes, index: int, at: str) -> bytes:
    """One entry's eve line (``encoded`` is its data's JSON; empty for none)."""
    if encoded:
        return _LINE % (type_.encode(), encoded, index, at.encode())
    return _LINE_NO_DATA % (type_.encode(), index, at.encode())


def parts(line: bytes, index: int) -> tuple[str, bytes | None, str]:
    """``(type, data JSON text or None, at)`` of entry ``index``'s line: cut at offsets
    the line's layout fixes, never parsed."""
    type_end = line.index(b'"', 9)
    tail = _LINE_TAIL + _AT_LEN + len(_META) + len(str(index)) + len(_SEQ)
    at = line[-(_LINE_TAIL + _AT_LEN) : -_LINE_TAIL].decode()
    has_data = line.startswith(b',"data":', type_end + 1)
    return line[9:type_end].decode(), line[type_end + 9 : -tail] if has_data else None, at


def line_at(line: bytes) -> str:
    """When the entry of ``line`` was appended (its ``meta.at``)."""
    return line[-(_LINE_TAIL + _AT_LEN) : -_LINE_TAIL].decode()


@attrs.frozen
class JournalEntry:
    """One entry, decoded (for programs that embed the daemon)."""

    index: int
    type: str
    data: Any
    at: str


class View(Protocol):
    """Something made from a journal's lines and kept with it for its readers."""

    def drop(self) -> None: ...


class JournalClosed(Exception):
    """Appending to a journal whose session has ended."""


@attrs.define(eq=False)
class MemoryBudget:
    """Bytes held by every journal of the daemon, against one limit. When spent,
    :meth:`over` first asks ``reclaim`` to free what it can (the registry forgets the
    oldest-ended sessions); what stays over makes journals drop content."""

    limit: int
    used: int = 0
    reclaim: Callable[[], None] | None = None
    #: Of ``used``, the bytes of coven views kept for readers (freed first).
    views: int = 0

    def over(self) -> bool:
        if self.used > self.limit and self.reclaim is not None:
            self.reclaim()
        return self.used > self.limit


class Journal:
    """One session's entries, indexed densely from 0."""

    def __init__(
        self,
        session_id: str,
        *,
        max_bytes: int,
        max_entry_bytes: int = 1 << 20,
        hard_max_bytes: int | None = None,
        budget: MemoryBudget | None = None,
    ) -> None:
        self.session_id = session_id
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self.hard_max_bytes = hard_max_bytes if hard_max_bytes is not None else 2 * max_bytes
        self.budget = budget
        self._arena = bytearray()
        self._ends = array("Q")
        self._wakeup: trio.Event | None = None
        #: A view made from this journal's lines and kept for its readers (the coven
        #: EventRecords: :mod:`coven_trio.records`), counted in the memory budget.
        self.view: View | None = None
        self.closed = False
        self.dropped_bytes = 0
        self.dropped_events = 0
        self._pending_drop = False
        self._capped = False
        #: Told of every line written: ``(session id, index, line, lifecycle)`` (the
        #: durable store's write-behind queue).
        self.sink: Callable[[str, int, bytes, bool], None] | None = None

    # --- writing -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._ends)

    @property
    def nbytes(self) -> int:
        return len(self._arena)

    @property
    def full(self) -> bool:
        """Past the hard limit: the session must end (lifecycle entries may still land)."""
        return len(self._arena) > self.hard_max_bytes

    def append(self, type_: EntryType, data: Any = None) -> int | None:
        """Append one entry; returns its index, or None if a cap dropped it."""
        if self.closed:
            raise JournalClosed(self.session_id)
        encoded = b"" if data is None else _encode(data)
        if type_ not in LIFECYCLE_TYPES:
            if len(encoded) > self.max_entry_bytes or self._drops(len(encoded)):
                self.dropped_bytes += len(encoded)
                self.dropped_events += 1
                self._pending_drop = True
                return None
        elif len(encoded) > self.max_entry_bytes:
            encoded = _json.fit(data, self.max_entry_bytes)[1]
        if self._pending_drop:
            self._pending_drop = False
            self._write(
                EntryType.OUTPUT_TRUNCATED,
                _encode({"droppedBytes": self.dropped_bytes, "droppedEvents": self.dropped_events}),
            )
        index = self._write(type_, encoded)
        self._wake()
        return index

    def _drops(self, size: int) -> bool:
        """Whether content of ``size`` bytes is dropped: past this journal's cap (once
        reached, it stays reached, so no gap is refilled out of order) or while the
        daemon's budget is spent."""
        if not self._capped and len(self._arena) + size > self.max_bytes:
            self._capped = True
        return self._capped or (self.budget is not None and self.budget.over())

    def release(self) -> None:
        """The journal is forgotten: give its bytes back to the budget."""
        self.drop_view()
        if self.budget is not None:
            self.budget.used -= len(self._arena)
            self.budget = None

    def drop_view(self) -> None:
        """Free the kept view (memory is short, or the journal is forgotten); readers
        remake what they need."""
        if self.view is not None:
            self.view.drop()
            self.view = None

    def _write(self, type_: EntryType, encoded: bytes) -> int:
        index = len(self._ends)
        line = encode_line(type_, encoded, index, utc_now())
        self._arena += line
        self._ends.append(len(self._arena))
        if self.budget is not None:
            self.budget.used += len(line)
        if self.sink is not None:
            self.sink(self.session_id, index, line, type_ in LIFECYCLE_TYPES)
        return index

    @classmethod
    def from_lines(cls, session_id: str, lines: list[bytes], *, closed: bool = True) -> Journal:
        """A journal rebuilt from its stored lines (index ``i`` is ``lines[i]``): the same
        bytes, so every view reads it as live clients saw it."""
        journal = cls(session_id, max_bytes=1 << 62)
        offsets = 0
        for line in lines:
            offsets += len(line)
            journal._ends.append(offsets)
        journal._arena = bytearray(b"".join(lines))
        journal.closed = closed
        return journal

    def close(self) -> None:
        """No more entries will come; tailers finish once they have read everything."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()
            self._wakeup = None

    # --- reading -------------------------------------------------------------------------

    async def wait_past(self, index: int) -> bool:
        """Wait until entry ``index`` exists; False if the journal closed first."""
        while index >= len(self._ends):
            if self.closed:
                return False
            if self._wakeup is None:
                self._wakeup = trio.Event()
            await self._wakeup.wait()
        return True

    def _start(self, index: int) -> int:
        return self._ends[index - 1] if index > 0 else 0

    def read_lines(self, start: int, max_bytes: int = 1 << 20) -> tuple[bytes, int]:
        """Eve NDJSON lines from ``start``: up to ``max_bytes`` (at least one entry).

        Returns the bytes and the index after the last line in them.
        """
        count = len(self._ends)
        if start >= count:
            return b"", start
        begin = self._start(start)
        # The last entry that ends within the budget (at least one entry).
        end_index = max(start + 1, bisect_right(self._ends, begin + max_bytes, start, count))
        return bytes(self._arena[begin : self._ends[end_index - 1]]), end_index

    def line(self, index: int) -> bytes:
        return bytes(self._arena[self._start(index) : self._ends[index]])

    def entry(self, index: int) -> tuple[str, bytes, str]:
        """``(type, data JSON text, at)`` of one entry, cut from its line (an entry
        without data reads as ``{}``, the coven view's ``payload_json``)."""
        type_, data, at = parts(self.line(index), index)
        return type_, b"{}" if data is None else data, at

    @property
    def last_at(self) -> str | None:
        """When the last entry was appended."""
        if not self._ends:
            return None
        end = self._ends[-1]
        return self._arena[end - _LINE_TAIL - _AT_LEN : end - _LINE_TAIL].decode()

    def type_of(self, index: int) -> str:
        start = self._start(index)
        return self._arena[start + 9 : self._arena.index(b'"', start + 9)].decode()

    def get(self, index: int) -> JournalEntry:
        """Entry ``index``, decoded (``data`` is None for an entry without data)."""
        type_, data, at = parts(self.line(index), index)
        decoded = None if data is None else json.loads(data)
        return JournalEntry(index=index, type=type_, data=decoded, at=at)

    async def entries(self, start: int = 0) -> AsyncIterator[JournalEntry]:
        """Every entry from ``start``: replay, then live, until the journal closes.

        A cursor of its own: iterate it as slowly as you like, nothing buffers for it.
        """
        index = start
        while await self.wait_past(index):
            end = len(self._ends)
            while index < end:
                yield self.get(index)
                index += 1
