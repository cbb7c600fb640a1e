"""Getting a client's turn or input to the harness: one delivery at a time, cancelled by
kill, and — for a per-turn harness, whose turn needs a new process — handed to the
session's run loop, which starts the process and reports back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import trio

from ..errors import CovenError, TurnActive
from ._interaction import Answer, TurnInput


@attrs.define(eq=False)
class Delivery:
    """A follow-up for a per-turn harness, waiting for its process to start."""

    turn: TurnInput
    answers: list[Answer]
    input_body: dict[str, Any] | None
    done: trio.Event = attrs.field(factory=trio.Event)
    error: CovenError | None = None

    def finish(self, error: CovenError | None = None) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()


#: Inputs a session takes mid-turn (each becomes a turn of its own, in order).
MAX_QUEUED = 16


class Courier:
    """One session's deliveries: the one in progress, the run loop's mailbox, and the
    inputs queued for the turns after the running one."""

    def __init__(self, not_live: Callable[[], CovenError]) -> None:
        self._not_live = not_live
        self.queued: list[Delivery] = []
        self.busy = False
        self._scope: trio.CancelScope | None = None
        self._pending: Delivery | None = None
        self._wake = trio.Event()

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """One client write to the harness at a time; :meth:`interrupt` cancels it
        (the client gets 409 ``session_not_live``)."""
        self.busy = True
        try:
            with trio.CancelScope() as scope:
                self._scope = scope
                yield
        finally:
            self.busy = False
            self._scope = None
        if scope.cancelled_caught:
            raise self._not_live()

    async def hand_over(self, delivery: Delivery) -> None:
        """Give a per-turn follow-up to the run loop; return once its process started
        (raises what starting it raised)."""
        self._pending = delivery
        self._wake.set()
        self.busy = True
        try:
            await delivery.done.wait()
        finally:
            self.busy = False
        if delivery.error is not None:
            raise delivery.error

    def check_queue(self, session_id: str) -> None:
        """Room for one more queued input (409 ``turn_active`` when full or mid-write)."""
        if len(self.queued) >= MAX_QUEUED or self.busy:
            raise TurnActive(
                f"A turn is running and {len(self.queued)} inputs wait for it.",
                details={"sessionId": session_id},
            )

    async def next(self, waiting: Callable[[], bool]) -> Delivery | None:
        """The run loop's side: the next queued input or follow-up, or None once
        ``waiting()`` turns false (the session moved on: killed, stopped)."""
        if self.queued and waiting():
            return self.queued.pop(0)
        while self._pending is None and waiting():
            self._wake = trio.Event()
            await self._wake.wait()
        delivery, self._pending = self._pending, None
        return delivery

    def interrupt(self) -> None:
        """Kill or stop: cancel a write in progress, wake the run loop."""
        if self._scope is not None:
            self._scope.cancel()
        self._wake.set()
