"""Sessions: one supervised harness run each, owned by a registry in the daemon's nursery.

Pure, no I/O: ``_state`` decides every transition from the facts in ``_facts`` (phases in
``_phases``, accepted inputs in ``_inbox``, client bookkeeping in ``_interaction``) and
answers each event of ``_events`` with entries and effects. Runtime: ``_session`` journals
what the state says and takes clients' requests; ``_runner`` performs the effects;
``_supervisor`` runs the processes; ``_registry`` launches, finds and forgets sessions.
"""

from ..vocabulary import SessionStatus
from ._history import Historical
from ._interaction import TurnInput
from ._phases import IllegalTransition, Phase, TurnState
from ._registry import SessionRegistry, is_live, live
from ._session import Session
from ._state import SessionState

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
    "is_live",
    "live",
]
