"""Notifications: telling a person that a session needs them, finished, or failed.

The daemon builds a :class:`Dispatcher` (``Dispatcher.from_home(home)`` reads
``<home>/notify.toml``), runs :meth:`Dispatcher.run` in its nursery, and calls
:meth:`Dispatcher.publish` — synchronous, never waiting on a receiver — when a session
reaches one of those moments (:mod:`.moments` reads them from a session's entries, loaded
with the session machinery). Each
notifier (:mod:`.command`, :mod:`.webhook`) delivers from its own bounded queue; clients
read the same notifications with ``snapshot``/``follow``. The notifiers and the file's
parser (:mod:`.config`) are imported only when a ``notify.toml`` asks for them.
docs/notifications.md is the reference.
"""

from __future__ import annotations

from .._defaults import NOTIFY_FILE
from ._dispatch import Dispatcher, Follower, FollowerDropped
from ._event import ALL_KINDS, Notification, NotificationKind

__all__ = [
    "ALL_KINDS",
    "NOTIFY_FILE",
    "Dispatcher",
    "Follower",
    "FollowerDropped",
    "Notification",
    "NotificationKind",
]
