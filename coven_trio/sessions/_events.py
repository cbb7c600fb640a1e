"""What can happen to a session (events) and what it asks for in return (effects). Data only.

The runtime (:mod:`._session`, :mod:`._runner`) describes what happened as an event;
:meth:`~._state.SessionState.handle` answers with a :class:`Step`: the journal entries
the event means and the effects to perform (write to the harness, start its next
process, signal it, check an answer against its schema). Performing an effect may
produce the next event (a write finished, a process started): nothing else moves a
session. In the style of h11's ``_events.py``.
"""

from __future__ import annotations

import itertools
from enum import Enum
from typing import Any, cast

import attrs

from ..errors import CovenError
from ..vocabulary import Entry, EntryType, FailureCode
from ._interaction import Answer as Answer_
from ._interaction import TurnInput

_ids = itertools.count(1)


class Data:
    """Events and effects: each happens once, so compared by identity (no generated
    ``__eq__``/``__hash__``), and shown by their fields. Generating those per class cost
    a third of this module's import, which is on the daemon's path to its first answer."""

    __slots__ = ()

    def __repr__(self) -> str:
        fields: Any = attrs.fields(cast(Any, type(self)))
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields)
        return f"{type(self).__name__}({shown})"


class How(Enum):
    """How a client's input wants to be taken."""

    #: Bytes for a raw process (a terminal, a command): written as they are.
    RAW = "raw"
    #: The next turn now: refused mid-turn (409 ``turn_active``; eve's seed client).
    TURN = "turn"
    #: A turn now, or after the running one (Coven's ``input``, eve's tokenless send).
    QUEUE = "queue"
    #: A harness command (``/clear``, ``/compact``) between turns: a turn of its own
    #: whose output is not the conversation's.
    COMMAND = "command"


@attrs.define(eq=False)
class Delivery:
    """One accepted client input, from its acceptance until it is delivered (a turn ran
    on it, or the raw process has it) or journaled as not run. ``body``: what Coven's
    ``input`` entry journals (None for eve's sends, which journal their turn only)."""

    turn: TurnInput
    how: How
    body: dict[str, Any] | None = None
    answers: list[Answer_] = attrs.field(factory=list)
    id: int = attrs.field(factory=lambda: next(_ids))
    #: A stream harness has it on stdin already (queued behind the running turn).
    on_stdin: bool = False
    #: Its turn started (or the raw process has it): it was not queued.
    started: bool = False
    #: The client was told it is accepted: from now on it must run or be journaled.
    accepted: bool = False


# --- events --------------------------------------------------------------------------------


@attrs.frozen(eq=False, repr=False)
class Launched(Data):
    """The session exists: ``session.started`` and its first turn."""

    started: dict[str, Any]
    turn: TurnInput


@attrs.frozen(eq=False, repr=False)
class Prewarmed(Data):
    """The session exists without a turn yet (eve's bodyless create)."""

    started: dict[str, Any]


@attrs.frozen(eq=False, repr=False)
class InputArrived(Data):
    """A client sent input. Refused (a :class:`CovenError` raised) if the session cannot
    take it; otherwise delivered now, queued, or journaled as not run."""

    delivery: Delivery


@attrs.frozen(eq=False, repr=False)
class Delivered(Data):
    """The harness has the delivery (the write finished; for a per-turn harness, the
    process that runs its turn started)."""

    delivery: Delivery


@attrs.frozen(eq=False, repr=False)
class DeliveryFailed(Data):
    """The delivery could not reach the harness: nothing of it is journaled."""

    delivery: Delivery
    error: CovenError


@attrs.frozen(eq=False, repr=False)
class ProcessStarted(Data):
    """The supervisor started a process and handed it its prompt."""


@attrs.frozen(eq=False, repr=False)
class Output(Data):
    """Entries the harness's output was translated into, in order."""

    entries: list[Entry]


@attrs.frozen(eq=False, repr=False)
class Checked(Data):
    """The turn's answer was checked against its ``outputSchema``: ``errors`` (empty: it
    matches ``value``)."""

    errors: list[str]
    value: Any


@attrs.frozen(eq=False, repr=False)
class ProcessExited(Data):
    """The harness's process exited (reaped). ``conversation``: the harness named a
    conversation a next process can resume."""

    returncode: int
    conversation: bool = False


@attrs.frozen(eq=False, repr=False)
class CancelRequested(Data):
    """Stop the running turn (``turn_id``: only if it is that one)."""

    turn_id: str | None = None


@attrs.frozen(eq=False, repr=False)
class ClearRequested(Data):
    """The next turn starts a fresh harness conversation; ``delivery`` carries the
    harness's ``/clear`` if it takes one."""

    delivery: Delivery


@attrs.frozen(eq=False, repr=False)
class CompactRequested(Data):
    """Compact the harness's conversation (``delivery`` carries its ``/compact``)."""

    delivery: Delivery


@attrs.frozen(eq=False, repr=False)
class PersonAttached(Data):
    """A person follows the session (a chat, the dashboard): questions go to them."""


@attrs.frozen(eq=False, repr=False)
class PersonLeft(Data):
    """A person stopped following the session."""


@attrs.frozen(eq=False, repr=False)
class KillRequested(Data):
    pass


@attrs.frozen(eq=False, repr=False)
class ShutdownRequested(Data):
    pass


@attrs.frozen(eq=False, repr=False)
class Aborted(Data):
    """The session cannot go on (cancelled from outside, a bug, a full journal)."""

    code: FailureCode
    message: str


Event = (
    Launched
    | Prewarmed
    | InputArrived
    | Delivered
    | DeliveryFailed
    | ProcessStarted
    | Output
    | Checked
    | ProcessExited
    | CancelRequested
    | PersonAttached
    | PersonLeft
    | ClearRequested
    | CompactRequested
    | KillRequested
    | ShutdownRequested
    | Aborted
)


# --- effects -------------------------------------------------------------------------------


@attrs.frozen(eq=False, repr=False)
class Write(Data):
    """Give ``delivery`` to the live process: the answers to its questions, then the
    turn's text (or the raw bytes); report :class:`Delivered` or :class:`DeliveryFailed`.
    Output is held meanwhile, so what the harness answers lands after the delivery."""

    delivery: Delivery


@attrs.frozen(eq=False, repr=False)
class Queue(Data):
    """A stream harness takes ``delivery`` on stdin now and answers it after the running
    turn: write it, then report :class:`Delivered` (it stays queued until its turn)."""

    delivery: Delivery


@attrs.frozen(eq=False, repr=False)
class Spawn(Data):
    """Start the harness's next process for ``delivery``'s turn (``resume``: continue
    the conversation); report :class:`ProcessStarted`, or :class:`DeliveryFailed`."""

    delivery: Delivery
    resume: bool


@attrs.frozen(eq=False, repr=False)
class Answer(Data):
    """Answer the harness's questions now, without a turn (nobody was there to ask)."""

    answers: tuple[Answer_, ...]


@attrs.frozen(eq=False, repr=False)
class Interrupt(Data):
    """Stop the running turn: the harness's interrupt line, else SIGINT."""


@attrs.frozen(eq=False, repr=False)
class Stop(Data):
    """Stop the process with the full escalation (EOF, SIGTERM, SIGKILL)."""


@attrs.frozen(eq=False, repr=False)
class Kill(Data):
    """SIGKILL the process group now."""


@attrs.frozen(eq=False, repr=False)
class Check(Data):
    """Check the turn's answer ``value`` against ``schema`` (off the event loop), then
    report :class:`Checked`."""

    value: Any
    schema: dict[str, Any]


@attrs.frozen(eq=False, repr=False)
class ForgetConversation(Data):
    """The harness's next process starts a new conversation."""


@attrs.frozen(eq=False, repr=False)
class BeginTurn(Data):
    """What the harness prints from now on belongs to turn ``turn_id`` (its driver's
    per-turn translation state starts over)."""

    turn_id: str


@attrs.frozen(eq=False, repr=False)
class Settle(Data):
    """The client waiting on ``delivery`` gets its answer: accepted (``error`` None: it
    was delivered, queued or journaled as not run) or ``error``."""

    delivery: Delivery
    error: CovenError | None = None


@attrs.frozen(eq=False, repr=False)
class Ended(Data):
    """The session is over: no process will start again; wake whoever waits for one."""


Effect = (
    Write
    | Answer
    | Queue
    | Spawn
    | Interrupt
    | Stop
    | Kill
    | Check
    | ForgetConversation
    | BeginTurn
    | Settle
    | Ended
)


@attrs.define
class Step:
    """What one event means: entries to journal (in order), then effects to perform."""

    entries: list[Entry] = attrs.field(factory=list)
    effects: list[Effect] = attrs.field(factory=list)
    #: The answer to a request that has one (a cancel: whether a turn is being stopped).
    outcome: bool = False

    def journal(self, type_: EntryType, data: dict[str, Any] | None) -> None:
        self.entries.append((type_, data))

    def do(self, effect: Effect) -> None:
        self.effects.append(effect)
