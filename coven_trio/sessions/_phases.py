"""A session's phases and what they mean to clients: the vocabulary of ``_state.py``.

Phases are finer than the status clients see (:class:`SessionStatus`); the sets below are
what the transitions ask of a phase::

    NEW ─launch─▶ TURN ─turn end─▶ IDLE (long-lived process) ─next turn─▶ TURN
    NEW ─prewarm─▶ IDLE (no turn yet)
                   │  ├─question─▶ PARKED (long-lived process) ─answer─▶ TURN
                   │  └─turn end─▶ BUSY (per-turn process) ─exit, resumable─▶ IDLE
                   └─exit─▶ COMPLETED | FAILED
    TURN/BUSY/IDLE/PARKED ─kill─▶ KILLING[_TURN] ─exit─▶ KILLED
    TURN/BUSY/IDLE/PARKED ─shutdown─▶ STOPPING[_TURN] ─exit─▶ COMPLETED | FAILED
    any live phase ─abort─▶ FAILED   (an internal failure; KILLING stays KILLED)

A per-turn process that exits after it ended its turn leaves a resumable session IDLE
whatever its exit code: a failed turn (codex exits 1) does not end the conversation.
``docs/architecture.md`` draws the same as a diagram.
"""

from __future__ import annotations

import signal
from enum import Enum, StrEnum

import attrs

from ..vocabulary import Ask, EntryType, SessionStatus

TURN_ENDS = (EntryType.TURN_COMPLETED, EntryType.TURN_FAILED)


class TurnState(StrEnum):
    NONE = "none"
    ACTIVE = "active"


class Phase(Enum):
    """The session's state: finer than :class:`SessionStatus`, one value at a time."""

    # Singletons compared by identity: hash them so, in C (Enum's __hash__ is Python).
    __hash__ = object.__hash__

    NEW = "new"  #: built, nothing journaled yet
    TURN = "turn"  #: a turn is running
    BUSY = "busy"  #: the turn ended, its per-turn process is still exiting
    IDLE = "idle"  #: between turns: takes the next message
    #: The turn ended at a harness question; its process waits for the answer, and what
    #: it still prints belongs to the next turn (held until then).
    PARKED = "parked"
    KILLING_TURN = "killing_turn"  #: kill accepted mid-turn; the process is being stopped
    KILLING = "killing"  #: kill accepted between turns; the process is being stopped
    STOPPING_TURN = "stopping_turn"  #: daemon shutdown mid-turn
    STOPPING = "stopping"  #: daemon shutdown between turns
    COMPLETED = "completed"
    FAILED = "failed"
    KILLED = "killed"


LIVE = frozenset({Phase.TURN, Phase.BUSY, Phase.IDLE, Phase.PARKED})
BETWEEN_TURNS = frozenset({Phase.IDLE, Phase.PARKED})
TERMINAL = frozenset({Phase.COMPLETED, Phase.FAILED, Phase.KILLED})
OPEN = frozenset(Phase) - TERMINAL - {Phase.NEW}  # the harness may still print
WITH_TURN = frozenset({Phase.TURN, Phase.KILLING_TURN, Phase.STOPPING_TURN})
TURN_OVER = {Phase.TURN: Phase.BUSY, Phase.KILLING_TURN: Phase.KILLING}
TURN_OVER[Phase.STOPPING_TURN] = Phase.STOPPING
STATUS = {
    **dict.fromkeys((Phase.NEW, Phase.TURN, Phase.BUSY), SessionStatus.RUNNING),
    **dict.fromkeys((Phase.STOPPING_TURN, Phase.STOPPING), SessionStatus.RUNNING),
    **dict.fromkeys((Phase.IDLE, Phase.PARKED), SessionStatus.IDLE),
    **dict.fromkeys((Phase.KILLING_TURN, Phase.KILLING, Phase.KILLED), SessionStatus.KILLED),
    Phase.COMPLETED: SessionStatus.COMPLETED,
    Phase.FAILED: SessionStatus.FAILED,
}


class IllegalTransition(Exception):
    """An event the session's current phase cannot take (a bug in the caller)."""


@attrs.frozen
class Shape:
    """What kind of session this is, fixed at launch (from its driver and launch)."""

    session_id: str
    harness: str
    #: Turns end by the harness saying so (structured output); else a raw process.
    turns: bool = True
    #: Each turn is its own process (codex ``exec``, claude ``--print``).
    per_turn: bool = False
    #: Turns go to the live process on stdin (claude's stream).
    stdin_turns: bool = False
    #: The session ends with its first process (Coven's nonInteractive).
    one_shot: bool = False
    #: Structured output is also journaled as terminal text (for Coven's clients).
    renders: bool = False
    #: The launch mode (for messages).
    mode: str = "stream"
    #: Who answers the harness's permission questions.
    ask: Ask = Ask.NEVER


def signal_name(signum: int) -> str:
    """``SIGKILL``; real-time signals (which :class:`signal.Signals` lacks) as ``SIGRTMIN+n``."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        if signal.SIGRTMIN <= signum <= signal.SIGRTMAX:
            return f"SIGRTMIN+{signum - signal.SIGRTMIN}"
        return f"signal {signum}"
