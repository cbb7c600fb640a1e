"""The session lifecycle as data: every phase, every event, every transition. Pure.

In the style of h11's ``_state.py``: no I/O and no trio here. The supervisor (processes)
and the interaction layer (clients' inputs) describe what happened as an event;
:meth:`SessionState.handle` moves the phase and returns the journal entries the event
means, stamped with the turn they belong to. An event the current phase cannot take
raises :class:`IllegalTransition`: that is a bug in the caller, never something a client
or a harness can cause (their mistakes are refused before, or are no-ops here).

Phases (clients see them through :attr:`SessionState.status`)::

    NEW ─launch─▶ TURN ─turn end─▶ IDLE (long-lived process) ─next turn─▶ TURN
    NEW ─prewarm─▶ IDLE (no turn yet)
                   │  ├─question─▶ PARKED (long-lived process) ─answer─▶ TURN
                   │  └─turn end─▶ BUSY (per-turn process) ─exit, resumable─▶ IDLE
                   └─exit─▶ COMPLETED | FAILED
    TURN/BUSY/IDLE/PARKED ─kill─▶ KILLING[_TURN] ─exit─▶ KILLED
    TURN/BUSY/IDLE/PARKED ─shutdown─▶ STOPPING[_TURN] ─exit─▶ COMPLETED | FAILED

A per-turn process that exits after it ended its turn leaves a resumable session IDLE
whatever its exit code: a failed turn (codex exits 1) does not end the conversation.
    any live phase ─abort─▶ FAILED   (an internal failure; KILLING stays KILLED)

``docs/architecture.md`` draws the same as a diagram.
"""

from __future__ import annotations

import signal
from enum import Enum, StrEnum
from typing import Any

import attrs

from ..vocabulary import SEQUENCED, TURN_SCOPED, Entry, EntryType, FailureCode
from ..vocabulary import SessionStatus as SessionStatus


class TurnState(StrEnum):
    NONE = "none"
    ACTIVE = "active"


class Phase(Enum):
    """The session's state: finer than :class:`SessionStatus`, one value at a time."""

    # Members are singletons compared by identity: hash them so, in C (Enum's own
    # __hash__ is Python code, and the phase is looked up several times per entry).
    __hash__ = object.__hash__

    NEW = "new"  #: built, nothing journaled yet
    TURN = "turn"  #: a turn is running
    BUSY = "busy"  #: the turn ended, its per-turn process is still exiting
    IDLE = "idle"  #: between turns: takes the next message
    #: The turn ended at a harness question; its process waits for the answer, and what
    #: it still prints belongs to the next turn (the session holds it until then).
    PARKED = "parked"
    KILLING_TURN = "killing_turn"  #: kill accepted mid-turn; the process is being stopped
    KILLING = "killing"  #: kill accepted between turns; the process is being stopped
    STOPPING_TURN = "stopping_turn"  #: daemon shutdown mid-turn
    STOPPING = "stopping"  #: daemon shutdown between turns
    COMPLETED = "completed"
    FAILED = "failed"
    KILLED = "killed"


LIVE = frozenset({Phase.TURN, Phase.BUSY, Phase.IDLE, Phase.PARKED})
#: Between turns: the next message (or answer) starts a turn.
BETWEEN_TURNS = frozenset({Phase.IDLE, Phase.PARKED})
TERMINAL = frozenset({Phase.COMPLETED, Phase.FAILED, Phase.KILLED})
#: Phases in which the harness may still produce output.
_OPEN = frozenset(Phase) - TERMINAL - {Phase.NEW}
_WITH_TURN = frozenset({Phase.TURN, Phase.KILLING_TURN, Phase.STOPPING_TURN})
#: A phase with its turn over (the turn ended, or was failed on the way out).
_TURN_OVER = {
    Phase.TURN: Phase.BUSY,
    Phase.KILLING_TURN: Phase.KILLING,
    Phase.STOPPING_TURN: Phase.STOPPING,
}
_STATUS = {
    Phase.NEW: SessionStatus.RUNNING,
    Phase.TURN: SessionStatus.RUNNING,
    Phase.BUSY: SessionStatus.RUNNING,
    Phase.IDLE: SessionStatus.IDLE,
    Phase.PARKED: SessionStatus.IDLE,
    Phase.KILLING_TURN: SessionStatus.KILLED,
    Phase.KILLING: SessionStatus.KILLED,
    Phase.STOPPING_TURN: SessionStatus.RUNNING,
    Phase.STOPPING: SessionStatus.RUNNING,
    Phase.COMPLETED: SessionStatus.COMPLETED,
    Phase.FAILED: SessionStatus.FAILED,
    Phase.KILLED: SessionStatus.KILLED,
}

KILLED_MESSAGE = "Session was killed."


class IllegalTransition(Exception):
    """An event the session's current phase cannot take (a bug in the caller)."""


# --- events ------------------------------------------------------------------------------


@attrs.frozen
class Launched:
    """The session exists: ``session.started`` and its first turn. ``deliveries``: the
    ids the clients' sends were given (``turn.started`` carries them)."""

    started: dict[str, Any]
    message: str
    deliveries: tuple[str, ...] = ()


@attrs.frozen
class Prewarmed:
    """The session exists without a turn yet (eve's bodyless create): it waits for its
    first message."""

    started: dict[str, Any]
    token: str


@attrs.frozen
class TurnBegan:
    """A follow-up was accepted and is being delivered to the harness."""

    message: str
    deliveries: tuple[str, ...] = ()


@attrs.frozen
class Recorded:
    """An entry that does not move the phase (harness output, accepted input, …)."""

    type: EntryType
    data: dict[str, Any] | None


@attrs.frozen
class TurnEnded:
    """The harness ended its turn. ``takes_turns``: its process stays and takes the next
    one (the session waits); otherwise the process is about to exit. ``cancelled``: the
    client stopped it (``turn.cancelled``)."""

    failed: bool
    data: dict[str, Any]
    token: str
    takes_turns: bool
    cancelled: bool = False


@attrs.frozen
class InputRequested:
    """The harness is parked on a question: the turn ends here (eve §5 D) and the answer
    comes as a follow-up."""

    data: dict[str, Any]
    token: str
    takes_turns: bool


@attrs.frozen
class ProcessExited:
    """The harness's process exited (reaped). ``resumable``: a per-turn harness whose
    conversation a next process can continue. ``cancelled``: the client stopped the
    turn, so the exit ends the turn (``turn.cancelled``), not the session."""

    returncode: int
    resumable: bool
    token: str
    cancelled: bool = False


@attrs.frozen
class KillRequested:
    process_running: bool


@attrs.frozen
class ShutdownRequested:
    process_running: bool


@attrs.frozen
class Aborted:
    """The session cannot go on (cancelled, a follow-up that could not start, a bug)."""

    code: FailureCode
    message: str


Event = (
    Launched
    | Prewarmed
    | TurnBegan
    | Recorded
    | TurnEnded
    | InputRequested
    | ProcessExited
    | KillRequested
    | ShutdownRequested
    | Aborted
)


def signal_name(signum: int) -> str:
    """``SIGKILL``; real-time signals (which :class:`signal.Signals` lacks) as
    ``SIGRTMIN+n``."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        if signal.SIGRTMIN <= signum <= signal.SIGRTMAX:
            return f"SIGRTMIN+{signum - signal.SIGRTMIN}"
        return f"signal {signum}"


def _failure(code: FailureCode, message: str, returncode: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"code": code, "message": message}
    if returncode is not None and returncode >= 0:
        data["exitCode"] = returncode
    return data


@attrs.define
class SessionState:
    """One session's phase and turn counter; :meth:`handle` is the only way to move it."""

    harness: str
    phase: Phase = Phase.NEW
    #: Turns begun so far; the current (or last) turn is ``turn_<turns - 1>``.
    turns: int = 0

    @property
    def status(self) -> SessionStatus:
        return _STATUS[self.phase]

    @property
    def turn(self) -> TurnState:
        return TurnState.ACTIVE if self.phase in _WITH_TURN else TurnState.NONE

    @property
    def live(self) -> bool:
        """Takes input, follow-ups and kill."""
        return self.phase in LIVE

    @property
    def between_turns(self) -> bool:
        """Takes the next message (or the answers to the harness's questions)."""
        return self.phase in BETWEEN_TURNS

    @property
    def ended(self) -> bool:
        return self.phase in TERMINAL

    @property
    def turn_id(self) -> str | None:
        return f"turn_{self.turns - 1}" if self.turns else None

    def handle(self, event: Event) -> list[Entry]:
        """Move to the phase ``event`` leads to; returns the entries to journal."""
        if isinstance(event, Recorded):
            self._require(self.phase in _OPEN, event)
            return [self._stamp(event.type, event.data)]
        if isinstance(event, Launched):
            self._require(self.phase is Phase.NEW, event)
            begun = self._begin(event.message, event.deliveries)
            return [(EntryType.SESSION_STARTED, event.started), *begun]
        if isinstance(event, Prewarmed):
            self._require(self.phase is Phase.NEW, event)
            self.phase = Phase.IDLE
            return [(EntryType.SESSION_STARTED, event.started), _waiting(event.token)]
        if isinstance(event, TurnBegan):
            self._require(self.phase in BETWEEN_TURNS, event)
            return self._begin(event.message, event.deliveries)
        if isinstance(event, TurnEnded):
            self._require(self.phase in _OPEN, event)
            kind = EntryType.TURN_FAILED if event.failed else EntryType.TURN_COMPLETED
            if event.cancelled:
                kind = EntryType.TURN_CANCELLED
            return self._end_turn(kind, event.data, event.token, event.takes_turns)
        if isinstance(event, InputRequested):
            self._require(self.phase in _OPEN, event)
            request = self._stamp(EntryType.INPUT_REQUESTED, event.data)
            ends = self._end_turn(
                EntryType.TURN_COMPLETED, {}, event.token, event.takes_turns, Phase.PARKED
            )
            return [request, *ends]
        if isinstance(event, ProcessExited):
            self._require(self.phase in _OPEN, event)
            return self._exited(event)
        if isinstance(event, KillRequested):
            self._require(self.phase in LIVE, event)
            return self._kill(event.process_running)
        if isinstance(event, ShutdownRequested):
            self._require(self.phase is not Phase.NEW, event)
            return self._shutdown(event.process_running)
        if isinstance(event, Aborted):
            if self.phase in TERMINAL:
                return []
            end = Phase.KILLED if self.status is SessionStatus.KILLED else Phase.FAILED
            return self._finish(end, event.code, event.message)
        raise IllegalTransition(f"unknown event {event!r}")  # pragma: no cover

    # --- transitions ---------------------------------------------------------------------

    def _require(self, ok: bool, event: Event) -> None:
        if not ok:
            raise IllegalTransition(f"{type(event).__name__} in phase {self.phase.name}")

    def _stamp(self, type_: EntryType, data: dict[str, Any] | None) -> Entry:
        """Turn entries carry ``turnId`` (and turn boundaries ``sequence``)."""
        if type_ in TURN_SCOPED and self.turns:
            data = {**(data or {}), "turnId": self.turn_id}
            if type_ in SEQUENCED:
                data["sequence"] = self.turns - 1
        return type_, data

    def _begin(self, message: str, deliveries: tuple[str, ...]) -> list[Entry]:
        self.turns += 1
        self.phase = Phase.TURN
        started = {"deliveryIds": list(deliveries)} if deliveries else None
        entries = [self._stamp(EntryType.TURN_STARTED, started)]
        if message:
            entries.append(self._stamp(EntryType.MESSAGE_RECEIVED, {"message": message}))
        return entries

    def _end_turn(
        self,
        kind: EntryType,
        data: dict[str, Any],
        token: str,
        takes_turns: bool,
        waits_in: Phase = Phase.IDLE,
    ) -> list[Entry]:
        """The harness ended its turn; without a turn running this is a no-op."""
        if self.phase not in _WITH_TURN:
            return []
        entries = [self._stamp(kind, data)]
        if self.phase is Phase.TURN and takes_turns:
            self.phase = waits_in
            entries.append(_waiting(token))
        else:
            self.phase = _TURN_OVER[self.phase]
        return entries

    def _exited(self, event: ProcessExited) -> list[Entry]:
        code = event.returncode
        exit_data: dict[str, Any] = {"exitCode": code if code >= 0 else None}
        if code < 0:
            exit_data["signal"] = signal_name(-code)
        exit_data["status"] = SessionStatus.COMPLETED if code == 0 else SessionStatus.FAILED
        entries: list[Entry] = [(EntryType.EXIT, exit_data)]
        phase = self.phase
        if phase in (Phase.KILLING_TURN, Phase.KILLING):
            return entries + self._finish(Phase.KILLED, FailureCode.KILLED, KILLED_MESSAGE, code)
        if event.cancelled and event.resumable and phase is Phase.TURN:
            self.phase = Phase.IDLE  # the client stopped the turn, not the session
            return [*entries, self._stamp(EntryType.TURN_CANCELLED, {}), _waiting(event.token)]
        if event.resumable and phase is Phase.BUSY and code >= 0:
            self.phase = Phase.IDLE  # the turn was over: its exit code ends nothing
            return [*entries, _waiting(event.token)]
        if code == 0:
            if event.resumable and phase is Phase.TURN:
                entries.append(self._stamp(EntryType.TURN_COMPLETED, {}))
                self.phase = Phase.IDLE
                return [*entries, _waiting(event.token)]
            if phase in _WITH_TURN:
                entries.append(self._stamp(EntryType.TURN_COMPLETED, {}))
            self.phase = Phase.COMPLETED
            return [*entries, (EntryType.SESSION_COMPLETED, None)]
        how = f"signal {signal_name(-code)}" if code < 0 else f"code {code}"
        message = f"harness `{self.harness}` exited with {how}"
        stopping = phase in (Phase.STOPPING_TURN, Phase.STOPPING)
        reason = FailureCode.STOPPED if stopping else FailureCode.HARNESS_EXITED
        return entries + self._finish(Phase.FAILED, reason, message, code)

    def _kill(self, process_running: bool) -> list[Entry]:
        entries: list[Entry] = [(EntryType.KILL, {"status": SessionStatus.KILLED})]
        if self.phase is Phase.TURN:
            self.phase = Phase.KILLING_TURN
        elif process_running:
            self.phase = Phase.KILLING
        else:  # a per-turn session between turns: nothing to stop
            return entries + self._finish(Phase.KILLED, FailureCode.KILLED, KILLED_MESSAGE)
        return entries

    def _shutdown(self, process_running: bool) -> list[Entry]:
        if self.phase is Phase.TURN:
            self.phase = Phase.STOPPING_TURN
        elif self.phase in (Phase.BUSY, Phase.IDLE, Phase.PARKED):
            if not process_running:
                self.phase = Phase.COMPLETED
                return [(EntryType.SESSION_COMPLETED, None)]
            self.phase = Phase.STOPPING
        return []  # already stopping, being killed, or over: nothing more to do

    def _finish(
        self, end: Phase, code: FailureCode, message: str, returncode: int | None = None
    ) -> list[Entry]:
        """Fail the running turn (if any), then end the session."""
        entries: list[Entry] = []
        if self.phase in _WITH_TURN:
            entries.append(self._stamp(EntryType.TURN_FAILED, {"code": code, "message": message}))
        self.phase = end
        entries.append((EntryType.SESSION_FAILED, _failure(code, message, returncode)))
        return entries


def _waiting(token: str) -> Entry:
    return EntryType.SESSION_WAITING, {"wait": "next-user-message", "continuationToken": token}
