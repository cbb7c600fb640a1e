"""What the exporter knows of one session (:class:`Track`), and what a publish window
came to (:class:`Outcome`)."""

from __future__ import annotations

from enum import Enum

import attrs

#: Statuses of a session whose journal will not grow any more.
ENDED = frozenset({"completed", "failed", "killed", "orphaned"})


class Outcome(Enum):
    """What a publish window came to."""

    IDLE = "idle"  # nothing to publish
    PUBLISHED = "published"  # every message acknowledged
    FAILED = "failed"  # some were not: their sessions are checked before the next send


@attrs.define(eq=False)
class Track:
    """One session, as the exporter knows it."""

    session_id: str
    num: int
    subject: str
    exported: int = 0  # every index below is in the stream
    seq: int = 0  # the stream sequence of the last entry known good (a check starts here)
    present: set[int] = attrs.field(factory=set)  # indexes past ``exported`` in the stream
    count: int = 0
    status: str = ""
    updated_at: str = ""
    record_sig: str = ""  # the signature of the record last put
    record_due: float = 0.0
    checked: bool = True  # false: ask the stream what it has before sending more

    @property
    def sig(self) -> str:
        return f"{self.status}|{self.count}|{self.updated_at}"

    @property
    def behind(self) -> bool:
        return self.exported < self.count

    @property
    def settled(self) -> bool:
        return self.status in ENDED and not self.behind and self.record_sig == self.sig

    def record_wanted(self, now: float) -> bool:
        """Put the record now? At once for a new session, a new status and the final
        record of an ended one; a count that only grew waits for RECORD_INTERVAL."""
        if self.record_sig == self.sig:
            return False
        if self.record_sig.partition("|")[0] != self.status:
            return True
        if self.status in ENDED and not self.behind:
            return True
        return now >= self.record_due

    def advance(self) -> None:
        while self.exported in self.present:
            self.present.discard(self.exported)
            self.exported += 1
