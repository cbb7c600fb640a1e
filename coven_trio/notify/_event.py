"""What a notification says: the three moments a person may want to hear about, as one
small record that every notifier and every follower reads the same way."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import attrs

from .._clock import new_ulid, utc_now


class NotificationKind(StrEnum):
    """Why a person is told. Part of the configuration (``events``) and of every payload
    (``kind``, ``X-Coven-Event``, ``COVEN_EVENT``): never rename one."""

    #: An approval or a question is pending: the session waits for a person.
    NEEDS_YOU = "needs_you"
    #: The session ended well.
    FINISHED = "finished"
    #: The session ended badly (failed, or was killed by something other than its person).
    FAILED = "failed"


ALL_KINDS = frozenset(NotificationKind)


def new_notification_id() -> str:
    """Time-ordered and unique: what a receiver deduplicates retries on."""
    return "ntf_" + new_ulid()


@attrs.frozen(kw_only=True)
class Notification:
    """One thing to tell a person. ``seq`` is 0 until :meth:`Dispatcher.publish` stamps
    it; ``id`` stays the same through every retry of every delivery."""

    kind: NotificationKind = attrs.field(converter=NotificationKind)
    session_id: str
    project: str
    harness: str
    title: str
    summary: str
    at: str = attrs.field(factory=utc_now)
    url: str | None = None
    #: Anything more a receiver may use (the pending question, the exit code…); plain
    #: JSON values only.
    details: dict[str, Any] = attrs.field(factory=dict, hash=False)
    id: str = attrs.field(factory=new_notification_id)
    seq: int = 0

    def as_json(self) -> dict[str, Any]:
        """The wire form: a webhook's body, a command's stdin, a follower's NDJSON line."""
        return {
            "id": self.id,
            "seq": self.seq,
            "kind": str(self.kind),
            "sessionId": self.session_id,
            "project": self.project,
            "harness": self.harness,
            "title": self.title,
            "summary": self.summary,
            "at": self.at,
            "url": self.url,
            "details": self.details,
        }
