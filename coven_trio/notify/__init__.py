"""Notifications: telling a person that a session needs them, finished, or failed.

The daemon builds a :class:`Dispatcher` (``Dispatcher.from_home(home)`` reads
``<home>/notify.toml``), runs :meth:`Dispatcher.run` in its nursery, and calls
:meth:`Dispatcher.publish` — synchronous, never waiting on a receiver — when a session
reaches one of those moments. Each notifier (a command, a webhook) delivers from its own
bounded queue; clients read the same notifications with ``snapshot``/``follow``.
docs/notifications.md is the reference.
"""

from __future__ import annotations

from ._command import CommandNotifier, command_env
from ._config import (
    NOTIFY_FILE,
    CommandSpec,
    NotifierSpec,
    NotifierType,
    NotifyConfigError,
    WebhookSpec,
    load_config,
    parse_config,
)
from ._dispatch import Dispatcher, Follower, FollowerDropped, build_notifier
from ._event import ALL_KINDS, Notification, NotificationKind
from ._moments import About, Asking, asking, moments
from ._notifier import DeliveryError, Notifier, backoff_delay
from ._webhook import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookNotifier,
    sign,
    verify_signature,
)

__all__ = [
    "ALL_KINDS",
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "NOTIFY_FILE",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "About",
    "Asking",
    "CommandNotifier",
    "CommandSpec",
    "DeliveryError",
    "Dispatcher",
    "Follower",
    "FollowerDropped",
    "Notification",
    "NotificationKind",
    "Notifier",
    "NotifierSpec",
    "NotifierType",
    "NotifyConfigError",
    "WebhookNotifier",
    "WebhookSpec",
    "asking",
    "backoff_delay",
    "build_notifier",
    "command_env",
    "load_config",
    "moments",
    "parse_config",
    "sign",
    "verify_signature",
]
