"""The dispatcher: one synchronous ``publish`` that fans a notification out to every
notifier that wants it and to every client following, and the task that delivers.

Nothing here ever waits on a reader: notifiers queue (bounded, oldest dropped), and a
follower's buffer is bounded too — a follower that falls that far behind is dropped
(its iterator raises :class:`FollowerDropped`) and may resume from :meth:`snapshot`,
since the last :data:`RING_SIZE` notifications are kept with their sequence numbers.
"""

from __future__ import annotations

import collections
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._defaults import NOTIFY_FILE
from ._event import Notification

if TYPE_CHECKING:
    from .config import NotifierSpec
    from .notifier import Notifier

log = logging.getLogger("coven_trio.notify")

#: Recent notifications kept for clients (``snapshot``, a follower's catch-up). A few
#: per session: 256 covers any client that reconnects within the hour.
RING_SIZE = 256
#: Notifications a follower may be behind before it is dropped. A follower is a socket
#: writer: if it cannot take 64 small lines its client is gone or stuck.
FOLLOWER_BUFFER = 64


class FollowerDropped(Exception):
    """The follower fell :data:`FOLLOWER_BUFFER` notifications behind and was dropped;
    ``last_seq`` is the last one it was given (resume with ``snapshot(last_seq)``)."""

    def __init__(self, last_seq: int) -> None:
        super().__init__(f"fell too far behind; the last notification read was seq {last_seq}")
        self.last_seq = last_seq


def build_notifier(spec: NotifierSpec) -> Notifier:
    """The notifier a configuration entry describes."""
    from .config import CommandSpec, WebhookSpec

    if isinstance(spec, CommandSpec):
        from .command import CommandNotifier

        return CommandNotifier(spec)
    if isinstance(spec, WebhookSpec):
        from .webhook import WebhookNotifier

        return WebhookNotifier(spec)
    raise TypeError(f"no notifier for {type(spec).__name__}")


@attrs.define(eq=False)
class _Subscriber:
    send: trio.MemorySendChannel[Notification]
    dropped: bool = False


class Follower:
    """An async iterator over notifications after a sequence number: those still in the
    ring first, then each new one as it is published. Use it as a context manager (or
    call :meth:`close`) so a reader that leaves stops being fed at once."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        backlog: list[Notification],
        subscriber: _Subscriber,
        receive: trio.MemoryReceiveChannel[Notification],
        after_seq: int,
    ) -> None:
        self._dispatcher = dispatcher
        self._backlog = collections.deque(backlog)
        self._subscriber = subscriber
        self._receive = receive
        self.last_seq = after_seq

    def __aiter__(self) -> Follower:
        return self

    async def __anext__(self) -> Notification:
        if self._backlog:
            await trio.lowlevel.checkpoint()
            notification = self._backlog.popleft()
        else:
            try:
                notification = await self._receive.receive()
            except (trio.EndOfChannel, trio.ClosedResourceError):
                if self._subscriber.dropped:
                    raise FollowerDropped(self.last_seq) from None
                raise StopAsyncIteration from None
        self.last_seq = notification.seq
        return notification

    def close(self) -> None:
        self._dispatcher._unsubscribe(self._subscriber)
        self._receive.close()

    def __enter__(self) -> Follower:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Dispatcher:
    """Owns the notifiers, the ring of recent notifications, and the followers.

    ``publish`` may be called before :meth:`run` starts (deliveries wait for it) and
    from any task of the same trio run; it never waits."""

    def __init__(
        self,
        notifiers: Sequence[Notifier] = (),
        *,
        ring_size: int = RING_SIZE,
        follower_buffer: int = FOLLOWER_BUFFER,
        config_error: str | None = None,
    ) -> None:
        self.notifiers = list(notifiers)
        self.config_error = config_error
        self._ring: collections.deque[Notification] = collections.deque(maxlen=ring_size)
        self._follower_buffer = follower_buffer
        self._subscribers: set[_Subscriber] = set()
        self._seq = 0
        self._stopped = False

    @classmethod
    def from_home(cls, home: Path, **options: Any) -> Dispatcher:
        """The notifiers of ``<home>/notify.toml``. A file that cannot be used is logged
        and kept as ``config_error`` (for health); the daemon then runs without notifiers
        rather than not at all."""
        if not os.path.lexists(home / NOTIFY_FILE):
            return cls((), **options)  # no notifiers: nothing of theirs is loaded
        from .config import NotifyConfigError, load_config

        try:
            notifiers = [build_notifier(spec) for spec in load_config(home)]
        except NotifyConfigError as exc:
            log.error("notifications are off: %s", exc)
            return cls((), config_error=str(exc), **options)
        return cls(notifiers, **options)

    @property
    def last_seq(self) -> int:
        return self._seq

    def publish(self, notification: Notification, *, attached: bool = False) -> Notification:
        """Stamp ``notification`` with the next sequence number, keep it in the ring,
        hand it to every follower and to every notifier whose ``events`` include its
        kind (and, if ``attached`` — a person is watching the session — that is not
        ``quiet_when_attached``). Synchronous: returns the stamped notification at once."""
        self._seq += 1
        notification = attrs.evolve(notification, seq=self._seq)
        self._ring.append(notification)
        for subscriber in list(self._subscribers):
            try:
                subscriber.send.send_nowait(notification)
            except trio.WouldBlock:
                subscriber.dropped = True
                self._unsubscribe(subscriber)
                log.info("a notifications follower fell behind and was dropped")
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._unsubscribe(subscriber)
        for notifier in self.notifiers:
            if notifier.wants(notification, attached=attached):
                notifier.notify(notification)
        return notification

    def snapshot(self, after_seq: int = 0) -> list[Notification]:
        """The notifications still in the ring with ``seq`` above ``after_seq``, oldest
        first. A gap between ``after_seq`` and the first one means some were forgotten."""
        return [n for n in self._ring if n.seq > after_seq]

    def follow(self, after_seq: int = 0) -> Follower:
        """``snapshot(after_seq)`` then every notification published from now on, without
        a gap or a repeat between the two (both are taken in one synchronous step)."""
        send, receive = trio.open_memory_channel[Notification](self._follower_buffer)
        subscriber = _Subscriber(send)
        if self._stopped:
            send.close()  # nothing more will come: the backlog, then the end
        else:
            self._subscribers.add(subscriber)
        return Follower(self, self.snapshot(after_seq), subscriber, receive, after_seq)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Deliver, one task per notifier, until cancelled. Followers end (their
        iterators stop) when it does."""
        self._stopped = False
        try:
            async with trio.open_nursery() as nursery:
                for notifier in self.notifiers:
                    nursery.start_soon(notifier.run, name=f"notifier {notifier.name}")
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._stopped = True
            for subscriber in list(self._subscribers):
                self._unsubscribe(subscriber)

    def end_followers(self) -> None:
        """End every follower now (their iterators stop): the daemon is stopping, and a
        client following must not hold its stop up."""
        for subscriber in list(self._subscribers):
            self._unsubscribe(subscriber)

    async def flushed(self) -> None:
        """Wait until every notifier delivered, failed or dropped all it was given (only
        while :meth:`run` runs)."""
        for notifier in self.notifiers:
            await notifier.flushed()

    def health(self) -> dict[str, Any]:
        """For the daemon's health document: each notifier's counters by name."""
        return {
            "notifiers": {
                notifier.name: {"type": notifier.type, **notifier.health()}
                for notifier in self.notifiers
            },
            "configError": self.config_error,
            "lastSeq": self._seq,
            "followers": len(self._subscribers),
        }

    def _unsubscribe(self, subscriber: _Subscriber) -> None:
        self._subscribers.discard(subscriber)
        subscriber.send.close()
