"""Sessions: one supervised harness run each, owned by a registry in the daemon's nursery.

``_state`` holds every phase and transition (pure); ``_supervisor`` runs the processes;
``_interaction`` keeps what clients put in (turns, answers, tokens); ``_session`` wires
them to a journal; ``_registry`` launches, finds and forgets sessions.
"""

from ._history import Historical
from ._interaction import TurnInput
from ._registry import SessionRegistry
from ._session import Session
from ._state import IllegalTransition, Phase, SessionState, SessionStatus, TurnState

__all__ = [
    "Historical",
    "IllegalTransition",
    "Phase",
    "Session",
    "SessionRegistry",
    "SessionState",
    "SessionStatus",
    "TurnInput",
    "TurnState",
]
