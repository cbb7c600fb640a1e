"""What a session's state is made of: the facts its transitions read, the views clients
see, and how entries are stamped with their turn. The transitions are in ``_state.py``,
the only module that changes these facts.
"""

from __future__ import annotations

from typing import Any

import attrs

from ..errors import InvalidRequest, SessionNotLive, TurnActive
from ..vocabulary import SEQUENCED, TURN_SCOPED, Ask, Entry, EntryType, FailureCode, SessionStatus
from . import _events as ev
from ._inbox import Inbox
from ._interaction import Interaction
from ._phases import (
    BETWEEN_TURNS,
    LIVE,
    STATUS,
    TERMINAL,
    TURN_ENDS,
    WITH_TURN,
    IllegalTransition,
    Phase,
    Shape,
    TurnState,
    signal_name,
)


def failure(code: FailureCode, message: str, returncode: int | None = None) -> dict[str, Any]:
    """``turn.failed`` / ``session.failed`` data."""
    data: dict[str, Any] = {"code": code, "message": message}
    if returncode is not None and returncode >= 0:
        data["exitCode"] = returncode
    return data


def exit_data(code: int) -> dict[str, Any]:
    """``exit`` data: the code, or the signal that ended the process."""
    data: dict[str, Any] = {"exitCode": code if code >= 0 else None}
    if code < 0:
        data["signal"] = signal_name(-code)
    data["status"] = SessionStatus.COMPLETED if code == 0 else SessionStatus.FAILED
    return data


#: Entries a parked session holds for its next turn; past this they are journaled at once.
MAX_HELD = 1000


@attrs.define
class Facts:
    """One session's phase and the facts its transitions depend on."""

    shape: Shape
    phase: Phase = Phase.NEW
    #: Turns begun so far; the current (or last) turn is ``turn_<turns - 1>``.
    turns: int = 0
    interaction: Interaction = attrs.field(factory=Interaction)
    #: A harness process is starting or running.
    process: bool = False
    #: A process of this session has run (a per-turn harness's next one resumes).
    ran: bool = False
    #: The client cancelled the running turn: its end is ``turn.cancelled``.
    cancelling: bool = False
    #: People following the session now (their questions go to them).
    people: int = 0
    #: Accepted inputs: the one on its way to the harness, the ones waiting for a turn.
    inbox: Inbox = attrs.field(factory=Inbox)
    #: Harness commands in flight (``/clear``, ``/compact``): their output is swallowed
    #: until their turn ends, then these entries are journaled.
    commands: list[list[Entry]] = attrs.field(factory=list)
    #: What the harness printed while parked at a question (the next turn's).
    held: list[Entry] = attrs.field(factory=list)
    #: While a turn's answer is checked against its schema: the output that came after
    #: its end (journaled once the check is done).
    checking: list[Entry] | None = None

    # --- views ---------------------------------------------------------------------------

    @property
    def status(self) -> SessionStatus:
        return STATUS[self.phase]

    @property
    def turn(self) -> TurnState:
        return TurnState.ACTIVE if self.phase in WITH_TURN else TurnState.NONE

    @property
    def live(self) -> bool:
        """Takes input, follow-ups and kill."""
        return self.phase in LIVE

    @property
    def between_turns(self) -> bool:
        return self.phase in BETWEEN_TURNS

    @property
    def ended(self) -> bool:
        return self.phase in TERMINAL

    @property
    def turn_id(self) -> str | None:
        return f"turn_{self.turns - 1}" if self.turns else None

    @property
    def token(self) -> str:
        return self.interaction.continuation_token

    @property
    def _takes_turns(self) -> bool:
        """The process stays across turns: at a turn's end the session waits."""
        return not self.shape.per_turn and self.process

    def _require(self, ok: bool, event: ev.Event) -> None:
        if not ok:
            raise IllegalTransition(f"{type(event).__name__} in phase {self.phase.name}")

    def _live(self) -> None:
        if not self.live:
            raise self._gone()

    def _gone(self) -> SessionNotLive:
        return SessionNotLive("Session is not live.", details=self._ids())

    def _ids(self) -> dict[str, Any]:
        return {"sessionId": self.shape.session_id}

    def _cannot(self, what: str) -> InvalidRequest:
        harness = self.shape.harness
        return InvalidRequest(
            f"harness `{harness}` cannot {what} in {self.shape.mode} mode",
            details={**self._ids(), "harness": harness},
        )

    def _unasked(self, data: dict[str, Any] | None, step: ev.Step) -> bool:
        """The harness asks, but only a person may answer (``Ask.PERSON``) and none is
        attached: its requests are denied at once, as the launch's own rule would
        (journaled as rejected ``action.result``). False when someone is asked."""
        if self.shape.ask is not Ask.PERSON or self.people:
            return False
        denials, answers = self.interaction.unasked(data or {})
        step.entries.extend(self._stamp(*denial) for denial in denials)
        step.do(ev.Answer(answers))
        return True

    def _attached(self, event: ev.PersonAttached, step: ev.Step) -> None:
        self.people += 1

    def _left(self, event: ev.PersonLeft, step: ev.Step) -> None:
        self.people = max(0, self.people - 1)

    def _quiet(self) -> None:
        """Clear and compact need the session between turns, with nothing on its way."""
        self._live()
        if not self.between_turns or not self.inbox.quiet:
            raise TurnActive("A turn is running.", details=self._ids())

    def _release_held(self, step: ev.Step) -> None:
        """The parked turn ends without a next one: what the harness printed meanwhile is
        journaled as it came (no turn to stamp)."""
        held, self.held = self.held, []
        for type_, data in held:
            if type_ not in TURN_ENDS:
                step.journal(type_, data)

    # --- entries -------------------------------------------------------------------------

    def _stamp(self, type_: EntryType, data: dict[str, Any] | None) -> Entry:
        """Turn entries carry ``turnId`` (and turn boundaries ``sequence``)."""
        if type_ in TURN_SCOPED and self.turns:
            data = {**(data or {}), "turnId": self.turn_id}
            if type_ in SEQUENCED:
                data["sequence"] = self.turns - 1
        return type_, data

    def _record(self, type_: EntryType, data: dict[str, Any] | None, step: ev.Step) -> None:
        step.entries.append(self._stamp(type_, data))

    def _waiting(self) -> Entry:
        return EntryType.SESSION_WAITING, {
            "wait": "next-user-message",
            "continuationToken": self.token,
        }

    def _wait(self, step: ev.Step) -> None:
        step.entries.append(self._waiting())
