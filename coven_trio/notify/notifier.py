"""A notifier: a bounded queue in front of one delivery task, with retries and counters.

:meth:`Notifier.notify` is synchronous and never waits: a session that publishes must
not be slowed by a receiver, however slow or dead. When the queue is full the *oldest*
waiting notification is dropped (and counted): what a person needs is what happens now,
not what they were told to look at ten minutes ago. One task delivers one notification
at a time, in order; each attempt is bounded by the notifier's ``timeout``.
"""

from __future__ import annotations

import abc
import collections
import logging
from typing import Any, ClassVar

import trio

from .._clock import utc_now
from ._event import Notification
from .config import MAX_BACKOFF, NotifierSpec

log = logging.getLogger("coven_trio.notify")

#: A drop is logged the first time and then once per this many, so a dead receiver
#: under a busy daemon writes a few lines, not one per notification.
DROP_LOG_EVERY = 100


class DeliveryError(Exception):
    """An attempt failed. ``retryable``: another attempt may succeed (the receiver was
    down, slow, or said 5xx/429); ``retry_after``: the receiver asked for that many
    seconds of patience."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


def backoff_delay(attempt: int, base: float, cap: float = MAX_BACKOFF) -> float:
    """The wait after failed attempt ``attempt`` (from 1): ``base`` doubled each time,
    at most ``cap``. No jitter: one daemon per user sends no thundering herd."""
    return float(min(cap, base * 2 ** (attempt - 1)))


class Notifier(abc.ABC):
    """One configured destination. Subclasses implement :meth:`deliver` (one attempt)."""

    type: ClassVar[str] = "notifier"

    def __init__(self, spec: NotifierSpec) -> None:
        self.spec = spec
        self._queue: collections.deque[Notification] = collections.deque()
        self._in_flight: Notification | None = None
        self._wake = trio.Event()
        self._idle = trio.Event()
        self._idle.set()
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self.last_error: str | None = None
        self.last_error_at: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def wants(self, notification: Notification, *, attached: bool) -> bool:
        """The ``events`` filter and the ``quiet_when_attached`` rule."""
        if notification.kind not in self.spec.events:
            return False
        return not (attached and self.spec.quiet_when_attached)

    def notify(self, notification: Notification) -> None:
        """Queue ``notification`` for delivery; returns at once, whatever the receiver."""
        if len(self._queue) >= self.spec.queue:
            gone = self._queue.popleft()
            self.dropped += 1
            if (self.dropped - 1) % DROP_LOG_EVERY == 0:
                log.warning(
                    "notifier %s: queue full (%d), dropped %s (%d dropped so far)",
                    self.name,
                    self.spec.queue,
                    gone.id,
                    self.dropped,
                )
        self._queue.append(notification)
        if self._idle.is_set():
            self._idle = trio.Event()
        self._wake.set()

    @abc.abstractmethod
    async def deliver(self, notification: Notification) -> None:
        """One attempt; raises :class:`DeliveryError` (``trio.TooSlowError`` and any
        other exception count as failed attempts too)."""

    async def run(self) -> None:
        """Deliver queued notifications, one at a time, until cancelled."""
        while True:
            if not self._queue:
                self._idle.set()
                self._wake = trio.Event()
                await self._wake.wait()
                continue
            notification = self._queue.popleft()
            self._in_flight = notification
            try:
                await self._deliver_with_retries(notification)
            finally:
                self._in_flight = None

    async def flushed(self) -> None:
        """Wait until everything queued so far was delivered, failed or dropped (only
        while :meth:`run` runs). For a graceful shutdown with a deadline, and tests."""
        await self._idle.wait()

    def health(self) -> dict[str, Any]:
        """The counters: ``queued`` (waiting or in flight) + ``delivered`` + ``failed`` +
        ``dropped`` = every notification this notifier accepted."""
        return {
            "queued": len(self._queue) + (self._in_flight is not None),
            "delivered": self.delivered,
            "failed": self.failed,
            "dropped": self.dropped,
            "lastError": self.last_error,
            "lastErrorAt": self.last_error_at,
        }

    async def _deliver_with_retries(self, notification: Notification) -> None:
        attempts = self.spec.attempts
        for attempt in range(1, attempts + 1):
            error = await self._attempt(notification)
            if error is None:
                self.delivered += 1
                return
            self.last_error, self.last_error_at = error.reason, utc_now()
            if not error.retryable or attempt == attempts:
                break
            delay = backoff_delay(attempt, self.spec.backoff)
            if error.retry_after is not None:
                delay = max(delay, min(error.retry_after, MAX_BACKOFF))
            log.info(
                "notifier %s: %s attempt %d/%d failed (%s); next in %g s",
                self.name,
                notification.id,
                attempt,
                attempts,
                error.reason,
                delay,
            )
            await trio.sleep(delay)
        self.failed += 1
        log.warning(
            "notifier %s: %s (%s, session %s) not delivered: %s",
            self.name,
            notification.id,
            notification.kind,
            notification.session_id,
            self.last_error,
        )

    async def _attempt(self, notification: Notification) -> DeliveryError | None:
        """One bounded attempt; the error it ended with, or None if delivered."""
        try:
            with trio.fail_after(self.spec.timeout):
                await self.deliver(notification)
        except trio.TooSlowError:
            return DeliveryError(f"no answer within {self.spec.timeout:g} s", retryable=True)
        except DeliveryError as exc:
            return exc
        except Exception as exc:  # a bug in one notifier must not end the others
            log.exception("notifier %s: delivery raised", self.name)
            return DeliveryError(f"internal error: {exc!r}", retryable=False)
        return None
