"""The session state machine, exhaustively: every phase x every event, no processes."""

from __future__ import annotations

import signal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coven_trio.sessions._state import (
    Aborted,
    Event,
    IllegalTransition,
    InputRequested,
    KillRequested,
    Launched,
    Phase,
    Prewarmed,
    ProcessExited,
    Recorded,
    SessionState,
    SessionStatus,
    ShutdownRequested,
    TurnBegan,
    TurnEnded,
    signal_name,
)
from coven_trio.vocabulary import EntryType, FailureCode

#: One event of each kind, with the variants that can lead elsewhere.
EVENTS: dict[str, Event] = {
    "launched": Launched({"sessionId": "ses_1"}, "hi"),
    "prewarmed": Prewarmed({"sessionId": "ses_1"}, "tok"),
    "turn_began": TurnBegan("again"),
    "recorded": Recorded(EntryType.OUTPUT, {"data": "x"}),
    "turn_ended_waits": TurnEnded(False, {}, "tok", True),
    "turn_ended_exits": TurnEnded(False, {}, "tok", False),
    "turn_failed_waits": TurnEnded(True, {"code": "c", "message": "m"}, "tok", True),
    "turn_cancelled_waits": TurnEnded(True, {}, "tok", True, cancelled=True),
    "input_requested_waits": InputRequested({"requests": []}, "tok", True),
    "input_requested_exits": InputRequested({"requests": []}, "tok", False),
    "exit_0_resumable": ProcessExited(0, True, "tok"),
    "exit_0": ProcessExited(0, False, "tok"),
    "exit_1": ProcessExited(1, False, "tok"),
    "exit_1_resumable": ProcessExited(1, True, "tok"),
    "exit_cancelled": ProcessExited(1, True, "tok", cancelled=True),
    "exit_sigkill": ProcessExited(-9, False, "tok"),
    "kill_running": KillRequested(True),
    "kill_no_process": KillRequested(False),
    "shutdown_running": ShutdownRequested(True),
    "shutdown_no_process": ShutdownRequested(False),
    "abort": Aborted(FailureCode.INTERNAL_ERROR, "boom"),
}

#: phase, event -> next phase and the entry types journaled. Every pair not listed
#: raises IllegalTransition.
TABLE = """
NEW            launched               TURN           session.started turn.started message.received
NEW            prewarmed              IDLE           session.started session.waiting
NEW            abort                  FAILED         session.failed
TURN           recorded               TURN           output
TURN           turn_ended_waits       IDLE           turn.completed session.waiting
TURN           turn_ended_exits       BUSY           turn.completed
TURN           turn_failed_waits      IDLE           turn.failed session.waiting
TURN           turn_cancelled_waits   IDLE           turn.cancelled session.waiting
TURN           input_requested_waits  PARKED         input.requested turn.completed session.waiting
TURN           input_requested_exits  BUSY           input.requested turn.completed
TURN           exit_0_resumable       IDLE           exit turn.completed session.waiting
TURN           exit_0                 COMPLETED      exit turn.completed session.completed
TURN           exit_1                 FAILED         exit turn.failed session.failed
TURN           exit_1_resumable       FAILED         exit turn.failed session.failed
TURN           exit_cancelled         IDLE           exit turn.cancelled session.waiting
TURN           exit_sigkill           FAILED         exit turn.failed session.failed
TURN           kill_running           KILLING_TURN   kill
TURN           kill_no_process        KILLING_TURN   kill
TURN           shutdown_running       STOPPING_TURN  -
TURN           shutdown_no_process    STOPPING_TURN  -
TURN           abort                  FAILED         turn.failed session.failed
BUSY           recorded               BUSY           output
BUSY           turn_ended_waits       BUSY           -
BUSY           turn_ended_exits       BUSY           -
BUSY           turn_failed_waits      BUSY           -
BUSY           turn_cancelled_waits   BUSY           -
BUSY           input_requested_waits  BUSY           input.requested
BUSY           input_requested_exits  BUSY           input.requested
BUSY           exit_0_resumable       IDLE           exit session.waiting
BUSY           exit_0                 COMPLETED      exit session.completed
BUSY           exit_1                 FAILED         exit session.failed
BUSY           exit_1_resumable       IDLE           exit session.waiting
BUSY           exit_cancelled         IDLE           exit session.waiting
BUSY           exit_sigkill           FAILED         exit session.failed
BUSY           kill_running           KILLING        kill
BUSY           kill_no_process        KILLED         kill session.failed
BUSY           shutdown_running       STOPPING       -
BUSY           shutdown_no_process    COMPLETED      session.completed
BUSY           abort                  FAILED         session.failed
IDLE           turn_began             TURN           turn.started message.received
IDLE           recorded               IDLE           output
IDLE           turn_ended_waits       IDLE           -
IDLE           turn_ended_exits       IDLE           -
IDLE           turn_failed_waits      IDLE           -
IDLE           turn_cancelled_waits   IDLE           -
IDLE           input_requested_waits  IDLE           input.requested
IDLE           input_requested_exits  IDLE           input.requested
IDLE           exit_0_resumable       COMPLETED      exit session.completed
IDLE           exit_0                 COMPLETED      exit session.completed
IDLE           exit_1                 FAILED         exit session.failed
IDLE           exit_1_resumable       FAILED         exit session.failed
IDLE           exit_cancelled         FAILED         exit session.failed
IDLE           exit_sigkill           FAILED         exit session.failed
IDLE           kill_running           KILLING        kill
IDLE           kill_no_process        KILLED         kill session.failed
IDLE           shutdown_running       STOPPING       -
IDLE           shutdown_no_process    COMPLETED      session.completed
IDLE           abort                  FAILED         session.failed
PARKED         turn_began             TURN           turn.started message.received
PARKED         recorded               PARKED         output
PARKED         turn_ended_waits       PARKED         -
PARKED         turn_ended_exits       PARKED         -
PARKED         turn_failed_waits      PARKED         -
PARKED         turn_cancelled_waits   PARKED         -
PARKED         input_requested_waits  PARKED         input.requested
PARKED         input_requested_exits  PARKED         input.requested
PARKED         exit_0_resumable       COMPLETED      exit session.completed
PARKED         exit_0                 COMPLETED      exit session.completed
PARKED         exit_1                 FAILED         exit session.failed
PARKED         exit_1_resumable       FAILED         exit session.failed
PARKED         exit_cancelled         FAILED         exit session.failed
PARKED         exit_sigkill           FAILED         exit session.failed
PARKED         kill_running           KILLING        kill
PARKED         kill_no_process        KILLED         kill session.failed
PARKED         shutdown_running       STOPPING       -
PARKED         shutdown_no_process    COMPLETED      session.completed
PARKED         abort                  FAILED         session.failed
KILLING_TURN   recorded               KILLING_TURN   output
KILLING_TURN   turn_ended_waits       KILLING        turn.completed
KILLING_TURN   turn_ended_exits       KILLING        turn.completed
KILLING_TURN   turn_failed_waits      KILLING        turn.failed
KILLING_TURN   turn_cancelled_waits   KILLING        turn.cancelled
KILLING_TURN   input_requested_waits  KILLING        input.requested turn.completed
KILLING_TURN   input_requested_exits  KILLING        input.requested turn.completed
KILLING_TURN   exit_0_resumable       KILLED         exit turn.failed session.failed
KILLING_TURN   exit_0                 KILLED         exit turn.failed session.failed
KILLING_TURN   exit_1                 KILLED         exit turn.failed session.failed
KILLING_TURN   exit_1_resumable       KILLED         exit turn.failed session.failed
KILLING_TURN   exit_cancelled         KILLED         exit turn.failed session.failed
KILLING_TURN   exit_sigkill           KILLED         exit turn.failed session.failed
KILLING_TURN   shutdown_running       KILLING_TURN   -
KILLING_TURN   shutdown_no_process    KILLING_TURN   -
KILLING_TURN   abort                  KILLED         turn.failed session.failed
KILLING        recorded               KILLING        output
KILLING        turn_ended_waits       KILLING        -
KILLING        turn_ended_exits       KILLING        -
KILLING        turn_failed_waits      KILLING        -
KILLING        turn_cancelled_waits   KILLING        -
KILLING        input_requested_waits  KILLING        input.requested
KILLING        input_requested_exits  KILLING        input.requested
KILLING        exit_0_resumable       KILLED         exit session.failed
KILLING        exit_0                 KILLED         exit session.failed
KILLING        exit_1                 KILLED         exit session.failed
KILLING        exit_1_resumable       KILLED         exit session.failed
KILLING        exit_cancelled         KILLED         exit session.failed
KILLING        exit_sigkill           KILLED         exit session.failed
KILLING        shutdown_running       KILLING        -
KILLING        shutdown_no_process    KILLING        -
KILLING        abort                  KILLED         session.failed
STOPPING_TURN  recorded               STOPPING_TURN  output
STOPPING_TURN  turn_ended_waits       STOPPING       turn.completed
STOPPING_TURN  turn_ended_exits       STOPPING       turn.completed
STOPPING_TURN  turn_failed_waits      STOPPING       turn.failed
STOPPING_TURN  turn_cancelled_waits   STOPPING       turn.cancelled
STOPPING_TURN  input_requested_waits  STOPPING       input.requested turn.completed
STOPPING_TURN  input_requested_exits  STOPPING       input.requested turn.completed
STOPPING_TURN  exit_0_resumable       COMPLETED      exit turn.completed session.completed
STOPPING_TURN  exit_0                 COMPLETED      exit turn.completed session.completed
STOPPING_TURN  exit_1                 FAILED         exit turn.failed session.failed
STOPPING_TURN  exit_1_resumable       FAILED         exit turn.failed session.failed
STOPPING_TURN  exit_cancelled         FAILED         exit turn.failed session.failed
STOPPING_TURN  exit_sigkill           FAILED         exit turn.failed session.failed
STOPPING_TURN  shutdown_running       STOPPING_TURN  -
STOPPING_TURN  shutdown_no_process    STOPPING_TURN  -
STOPPING_TURN  abort                  FAILED         turn.failed session.failed
STOPPING       recorded               STOPPING       output
STOPPING       turn_ended_waits       STOPPING       -
STOPPING       turn_ended_exits       STOPPING       -
STOPPING       turn_failed_waits      STOPPING       -
STOPPING       turn_cancelled_waits   STOPPING       -
STOPPING       input_requested_waits  STOPPING       input.requested
STOPPING       input_requested_exits  STOPPING       input.requested
STOPPING       exit_0_resumable       COMPLETED      exit session.completed
STOPPING       exit_0                 COMPLETED      exit session.completed
STOPPING       exit_1                 FAILED         exit session.failed
STOPPING       exit_1_resumable       FAILED         exit session.failed
STOPPING       exit_cancelled         FAILED         exit session.failed
STOPPING       exit_sigkill           FAILED         exit session.failed
STOPPING       shutdown_running       STOPPING       -
STOPPING       shutdown_no_process    STOPPING       -
STOPPING       abort                  FAILED         session.failed
COMPLETED      shutdown_running       COMPLETED      -
COMPLETED      shutdown_no_process    COMPLETED      -
COMPLETED      abort                  COMPLETED      -
FAILED         shutdown_running       FAILED         -
FAILED         shutdown_no_process    FAILED         -
FAILED         abort                  FAILED         -
KILLED         shutdown_running       KILLED         -
KILLED         shutdown_no_process    KILLED         -
KILLED         abort                  KILLED         -
"""


def _expected() -> dict[tuple[Phase, str], tuple[Phase, list[str]]]:
    table = {}
    for row in TABLE.strip().splitlines():
        phase, event, after, *entries = row.split()
        table[Phase[phase], event] = (Phase[after], [] if entries == ["-"] else entries)
    return table


EXPECTED = _expected()


def _state(phase: Phase) -> SessionState:
    return SessionState("claude", phase=phase, turns=0 if phase is Phase.NEW else 1)


@pytest.mark.parametrize("phase", list(Phase), ids=lambda p: p.name)
@pytest.mark.parametrize("name", list(EVENTS))
def test_every_phase_and_event(phase: Phase, name: str) -> None:
    state = _state(phase)
    if (phase, name) not in EXPECTED:
        with pytest.raises(IllegalTransition):
            state.handle(EVENTS[name])
        assert state.phase is phase  # an illegal event changes nothing
        return
    after, types = EXPECTED[phase, name]
    entries = state.handle(EVENTS[name])
    assert (state.phase, [t.value for t, _ in entries]) == (after, types)


def test_the_table_names_only_real_phases_and_events() -> None:
    assert {event for _, event in EXPECTED} <= set(EVENTS)
    assert {phase for phase, _ in EXPECTED} == set(Phase)


def test_statuses_clients_see() -> None:
    seen = {phase: _state(phase).status for phase in Phase}
    assert seen[Phase.IDLE] is seen[Phase.PARKED] is SessionStatus.IDLE
    assert seen[Phase.KILLING] is seen[Phase.KILLING_TURN] is SessionStatus.KILLED
    assert {seen[p] for p in (Phase.TURN, Phase.BUSY, Phase.STOPPING)} == {SessionStatus.RUNNING}
    live = [Phase.TURN, Phase.BUSY, Phase.IDLE, Phase.PARKED]
    assert [p for p in Phase if _state(p).live] == live
    assert [p for p in Phase if _state(p).between_turns] == [Phase.IDLE, Phase.PARKED]


def test_turn_entries_carry_turn_id_and_sequence() -> None:
    state = SessionState("claude")
    started = state.handle(Launched({"sessionId": "s"}, "one"))
    assert started[1:] == [
        (EntryType.TURN_STARTED, {"turnId": "turn_0", "sequence": 0}),
        (EntryType.MESSAGE_RECEIVED, {"message": "one", "turnId": "turn_0", "sequence": 0}),
    ]
    assert state.handle(Recorded(EntryType.AGENT_START, {})) == [
        (EntryType.AGENT_START, {"turnId": "turn_0"})
    ]
    assert state.handle(Recorded(EntryType.STDERR, {"text": "x"})) == [
        (EntryType.STDERR, {"text": "x"})
    ]
    state.handle(TurnEnded(False, {}, "tok_a", True))
    second = state.handle(TurnBegan(""))
    assert second == [(EntryType.TURN_STARTED, {"turnId": "turn_1", "sequence": 1})]


def test_waiting_carries_the_token_it_was_given() -> None:
    state = _state(Phase.TURN)
    entries = state.handle(TurnEnded(False, {}, "tok_42", True))
    assert entries[-1] == (
        EntryType.SESSION_WAITING,
        {"wait": "next-user-message", "continuationToken": "tok_42"},
    )


def test_exit_entries_say_how_the_process_ended() -> None:
    killed = _state(Phase.KILLING_TURN).handle(ProcessExited(-9, False, "t"))
    assert killed[0] == (
        EntryType.EXIT,
        {"exitCode": None, "signal": "SIGKILL", "status": "failed"},
    )
    assert killed[-1] == (
        EntryType.SESSION_FAILED,
        {"code": FailureCode.KILLED, "message": "Session was killed."},
    )
    crashed = _state(Phase.TURN).handle(ProcessExited(3, False, "t"))
    assert crashed[-1][1] == {
        "code": FailureCode.HARNESS_EXITED,
        "message": "harness `claude` exited with code 3",
        "exitCode": 3,
    }
    stopped = _state(Phase.STOPPING).handle(ProcessExited(-15, False, "t"))
    assert stopped[-1][1] is not None and stopped[-1][1]["code"] == FailureCode.STOPPED


def test_real_time_signals_have_names() -> None:
    assert signal_name(signal.SIGTERM) == "SIGTERM"
    assert signal_name(signal.SIGRTMIN + 6) == "SIGRTMIN+6"
    assert signal_name(200) == "signal 200"


# --- any sequence of events keeps the journal well formed ---------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(sorted(EVENTS)), max_size=30))
def test_any_event_sequence_keeps_the_journal_well_formed(names: list[str]) -> None:
    state = SessionState("claude")
    journal: list[tuple[str, Any]] = [(t.value, d) for t, d in state.handle(EVENTS["launched"])]
    for name in names:
        before = state.phase
        try:
            entries = state.handle(EVENTS[name])
        except IllegalTransition:
            assert state.phase is before
            continue
        assert not (before in (Phase.COMPLETED, Phase.FAILED, Phase.KILLED) and entries)
        if entries and entries[-1][0] is EntryType.SESSION_WAITING:
            assert state.between_turns  # waiting means: takes the next message
        journal += [(t.value, d) for t, d in entries]
    types = [t for t, _ in journal]
    assert types[0] == "session.started"
    terminal = [i for i, t in enumerate(types) if t in ("session.completed", "session.failed")]
    assert len(terminal) == (1 if state.ended else 0)
    if terminal:
        assert terminal[0] == len(types) - 1
    # every turn ends at most once, and before the next begins
    open_turn = False
    for kind in types:
        if kind == "turn.started":
            assert not open_turn
            open_turn = True
        elif kind in ("turn.completed", "turn.failed", "turn.cancelled"):
            assert open_turn
            open_turn = False
    assert open_turn == (state.phase in (Phase.TURN, Phase.KILLING_TURN, Phase.STOPPING_TURN))
