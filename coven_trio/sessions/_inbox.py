"""A session's accepted inputs, from acceptance until their turn. Pure; part of the state.

The promise it keeps: a 2xx means the input is delivered (its turn started, or the raw
process has it) or journaled as ``input {…, delivered: false, reason}`` — never nothing.
:class:`~._state.SessionState` decides when an input is taken, queued or refused; the
inbox holds the one on its way to the harness, the queue behind the running turn, and
writes the entries that say what became of each.
"""

from __future__ import annotations

from typing import Any

import attrs

from ..errors import TurnActive
from ..vocabulary import EntryType
from . import _events as ev

#: Inputs a turn-based session takes mid-turn (each becomes a turn of its own, in order).
MAX_QUEUED = 16
#: Why input to a one-shot run is journaled as not run.
ONE_SHOT = (
    "The session runs one prompt (nonInteractive without followUps): its process had "
    "already taken it."
)


@attrs.define
class Inbox:
    #: The delivery on its way to the harness now (a write, or a process starting).
    pending: ev.Delivery | None = None
    #: Accepted inputs waiting for their turn, in order.
    queue: list[ev.Delivery] = attrs.field(factory=list)

    @property
    def quiet(self) -> bool:
        """Nothing on its way and nothing waiting."""
        return self.pending is None and not self.queue

    def room(self, details: dict[str, Any]) -> None:
        """One more may wait (409 ``turn_active`` when the queue is full)."""
        if len(self.queue) >= MAX_QUEUED:
            waiting = len(self.queue)
            message = f"A turn is running and {waiting} inputs wait for it."
            raise TurnActive(message, details=details)

    def accept(self, d: ev.Delivery, step: ev.Step) -> None:
        """Tell the client ``d`` is taken: from now on it runs or is journaled."""
        if not d.accepted:
            d.accepted = True
            step.do(ev.Settle(d))

    def unrun(self, d: ev.Delivery, reason: str, step: ev.Step) -> None:
        """``d`` will never run: journal it, with why (and accept it, if not yet)."""
        body = d.body if d.body is not None else {"message": d.turn.message}
        note = {**body, "delivered": False, "reason": reason}
        if d.turn.delivery_id is not None:
            note["deliveryId"] = d.turn.delivery_id
        step.journal(EntryType.INPUT, note)
        self.accept(d, step)

    def unrun_all(self, reason: str, step: ev.Step) -> None:
        """The session ends: every accepted input not yet run is journaled as not run."""
        waiting, self.queue = self.queue, []
        if self.pending is not None and self.pending.accepted:
            waiting.insert(0, self.pending)
            self.pending = None
        for d in waiting:
            self.unrun(d, reason, step)

    def take(self) -> ev.Delivery | None:
        """The next input to run, if nothing is on its way."""
        return self.queue.pop(0) if self.pending is None and self.queue else None
