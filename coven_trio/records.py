"""The Coven view of a journal: ``EventRecord`` lines (``seq``, ``id``, ``session_id``,
``kind``, ``payload_json``, ``created_at``), made from the journal's own lines.

A record is cut from its line (:func:`coven_trio.journal.parts`: no parse, no re-encode
of the data but the one escape ``payload_json`` needs). Coven followers and event pages
read a second arena of records kept with the journal (:class:`Records`, the journal's
:attr:`~coven_trio.journal.Journal.view`), made as coven readers reach them, a batch per
read: each record is made once however many clients read it, and a first reader of a
long journal never stalls the event loop making all of them. The kept records count
against the daemon's memory budget; when it is short they are made for one read only.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right

from . import _json
from .journal import Journal, parts

_RECORD = (
    b'{"seq":%d,"id":"%s:%d","session_id":"%s","kind":"%s","payload_json":%s,"created_at":"%s"}'
)


def event_record(session_id: str, index: int, line: bytes) -> bytes:
    """The EventRecord (compact JSON, no newline) of entry ``index``, whose line is
    ``line`` (an entry without data has ``payload_json`` ``"{}"``)."""
    type_, data, at = parts(line, index)
    sid = session_id.encode()
    payload = _json.dumps((data or b"{}").decode())
    return _RECORD % (index + 1, sid, index, sid, type_.encode(), payload, at.encode())


class Records:
    """The EventRecords of one journal from ``_from`` on, as NDJSON in one arena."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._arena = bytearray()
        self._ends = array("Q")
        self._from = 0

    @classmethod
    def of(cls, journal: Journal) -> Records:
        """The journal's kept records (made empty on first use)."""
        view = journal.view
        if not isinstance(view, Records):
            view = journal.view = cls(journal)
        return view

    def drop(self) -> None:
        """Give the bytes back (the journal forgets this view)."""
        budget = self.journal.budget
        if budget is not None:
            budget.used -= len(self._arena)
            budget.views -= len(self._arena)
        self._arena = bytearray()
        self._ends = array("Q")

    def _one(self, index: int) -> bytes:
        return event_record(self.journal.session_id, index, self.journal.line(index))

    def read(
        self, start: int, max_bytes: int = 1 << 20, max_entries: int | None = None
    ) -> tuple[bytes, int]:
        """EventRecords as NDJSON lines from ``start``: up to ``max_bytes`` (at least one
        entry) and ``max_entries``. Returns the bytes and the index after the last."""
        count = len(self.journal)
        if start >= count:
            return b"", start
        stop = count if max_entries is None else min(count, start + max(1, max_entries))
        if not self._extend(start, stop, max_bytes):
            chunk = bytearray()
            index = start
            while index < stop:
                record = self._one(index) + b"\n"
                if chunk and len(chunk) + len(record) > max_bytes:
                    break
                chunk += record
                index += 1
            return bytes(chunk), index
        ends, base = self._ends, self._from
        begin = ends[start - base - 1] if start > base else 0
        last = min(stop, base + len(ends)) - base
        end = max(start - base + 1, bisect_right(ends, begin + max_bytes, start - base, last))
        return bytes(self._arena[begin : ends[end - 1]]), base + end

    def _extend(self, start: int, stop: int, max_bytes: int) -> bool:
        """Make and keep the records a read from ``start`` needs, about ``max_bytes`` per
        call. The kept run begins where the first coven reader began (a follower of the
        live tail keeps only what comes after). False (nothing kept) when ``start`` is
        outside the kept run, or memory is short."""
        if not self._ends:
            self._from = start
        made = self._from + len(self._ends)
        if not self._from <= start <= made:
            return False
        if made >= stop:
            return True
        budget = self.journal.budget
        if budget is not None and budget.used + max_bytes > budget.limit:
            return False
        offset = start - self._from
        begin = self._ends[offset - 1] if offset > 0 else 0
        before = len(self._arena)
        index = made
        while index < stop and len(self._arena) - begin <= max_bytes:
            self._arena += self._one(index)
            self._arena += b"\n"
            self._ends.append(len(self._arena))
            index += 1
        if budget is not None:
            budget.used += len(self._arena) - before
            budget.views += len(self._arena) - before
        return True


def read(
    journal: Journal, start: int, max_bytes: int = 1 << 20, max_entries: int | None = None
) -> tuple[bytes, int]:
    """:meth:`Records.read` of ``journal``'s kept records."""
    return Records.of(journal).read(start, max_bytes, max_entries)
