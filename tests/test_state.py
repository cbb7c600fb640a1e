"""The session's state machine without processes: events in, entries and effects out."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from coven_trio.errors import CovenError, SessionNotLive, TurnActive
from coven_trio.sessions import _events as ev
from coven_trio.sessions._interaction import TurnInput
from coven_trio.sessions._phases import IllegalTransition, Phase, Shape, signal_name
from coven_trio.sessions._state import SessionState
from coven_trio.vocabulary import EntryType, SessionStatus

STREAM = Shape("ses_1", "claude", stdin_turns=True, mode="stream")
PER_TURN = Shape("ses_1", "codex", per_turn=True, mode="nonInteractive")
ONE_SHOT = Shape("ses_1", "codex", per_turn=True, one_shot=True, mode="nonInteractive")
RAW = Shape("ses_1", "command", turns=False, mode="interactive")


def types(step: ev.Step) -> list[str]:
    return [str(t) for t, _ in step.entries]


def effects(step: ev.Step) -> list[str]:
    return [type(e).__name__ for e in step.effects]


def launched(shape: Shape, message: str = "hi") -> SessionState:
    state = SessionState(shape)
    step = state.handle(ev.Launched({"sessionId": "ses_1"}, TurnInput.plain(message)))
    assert types(step) == ["session.started", "turn.started", "message.received"]
    state.handle(ev.ProcessStarted())
    return state


def ended_turn(state: SessionState) -> ev.Step:
    return state.handle(ev.Output([(EntryType.TURN_COMPLETED, {})]))


def coven_input(text: str) -> ev.Delivery:
    return ev.Delivery(TurnInput.plain(text), ev.How.QUEUE, body={"data": text})


def test_a_stream_turn_is_written_then_journaled() -> None:
    state = launched(STREAM)
    assert types(ended_turn(state)) == ["turn.completed", "session.waiting"]
    d = coven_input("again")
    step = state.handle(ev.InputArrived(d))
    assert (types(step), effects(step)) == ([], ["Write"])  # nothing before the harness has it
    step = state.handle(ev.Delivered(d))
    assert types(step) == ["input", "turn.started", "message.received"]
    assert "Settle" in effects(step) and d.started
    assert step.entries[1][1] == {"turnId": "turn_1", "sequence": 1}


def test_a_failed_write_journals_nothing_and_keeps_the_token() -> None:
    state = launched(STREAM)
    ended_turn(state)
    token = state.token
    d = coven_input("again")
    state.handle(ev.InputArrived(d))
    step = state.handle(ev.DeliveryFailed(d, SessionNotLive("gone")))
    assert types(step) == [] and state.token == token and state.phase is Phase.IDLE
    settle = step.effects[0]
    assert isinstance(settle, ev.Settle) and isinstance(settle.error, SessionNotLive)


def test_one_shot_input_is_journaled_as_not_run() -> None:
    state = launched(ONE_SHOT)
    step = state.handle(ev.InputArrived(coven_input("more")))
    [(kind, data)] = step.entries
    assert kind == EntryType.INPUT
    assert data is not None and data["data"] == "more" and data["delivered"] is False
    assert "nonInteractive" in data["reason"]
    assert effects(step) == ["Settle"]  # accepted: 202, nothing waits for a turn


def test_inputs_queued_behind_a_turn_run_in_order_or_say_why_not() -> None:
    state = launched(PER_TURN)
    first, second = coven_input("one"), coven_input("two")
    for d in (first, second):
        assert effects(state.handle(ev.InputArrived(d))) == ["Settle"]  # queued: 202
    ended_turn(state)
    step = state.handle(ev.ProcessExited(0, conversation=True))
    assert types(step) == ["exit", "session.waiting"]
    [spawn] = [e for e in step.effects if isinstance(e, ev.Spawn)]
    assert spawn.delivery is first and spawn.resume
    assert types(state.handle(ev.ProcessStarted()))[:2] == ["input", "turn.started"]
    step = state.handle(ev.KillRequested())
    assert types(step) == ["kill"]
    step = state.handle(ev.ProcessExited(-9))
    inputs = [d for t, d in step.entries if t == EntryType.INPUT]
    assert inputs == [
        {"data": "two", "delivered": False, "reason": "the session ended (killed) before its turn"}
    ]
    assert types(step)[-1] == "session.failed"


def test_the_queue_is_bounded_and_a_seed_follow_up_is_refused_mid_turn() -> None:
    state = launched(PER_TURN)
    for n in range(16):
        state.handle(ev.InputArrived(coven_input(str(n))))
    with pytest.raises(TurnActive):
        state.handle(ev.InputArrived(coven_input("17th")))
    with pytest.raises(TurnActive):
        state.handle(ev.InputArrived(ev.Delivery(TurnInput.plain("x"), ev.How.TURN)))


def test_a_stream_harness_gets_queued_input_on_stdin_at_once() -> None:
    state = launched(STREAM)
    d = coven_input("next")
    assert effects(state.handle(ev.InputArrived(d))) == ["Queue"]
    assert effects(state.handle(ev.Delivered(d))) == ["Settle"] and not d.started
    step = ended_turn(state)  # the queued turn starts as the running one ends
    assert types(step) == [
        "turn.completed",
        "session.waiting",
        "input",
        "turn.started",
        "message.received",
    ]


def test_clear_ends_with_waiting_and_names_the_next_turn() -> None:
    state = launched(STREAM)
    ended_turn(state)
    d = ev.Delivery(TurnInput.plain("/clear"), ev.How.COMMAND)
    assert effects(state.handle(ev.ClearRequested(d))) == ["Write"]
    step = state.handle(ev.Delivered(d))
    assert types(step) == ["context.cleared", "session.waiting"]
    assert step.entries[0][1] == {"sessionId": "ses_1", "turnId": "turn_1", "sequence": 1}
    assert "ForgetConversation" in effects(step)
    # /clear's own turn is not the conversation's
    step = state.handle(
        ev.Output([(EntryType.MESSAGE_APPENDED, {}), (EntryType.TURN_COMPLETED, {})])
    )
    assert types(step) == []


def test_compact_waits_after_its_command_turn() -> None:
    state = launched(STREAM)
    ended_turn(state)
    d = ev.Delivery(TurnInput.plain("/compact"), ev.How.COMMAND)
    state.handle(ev.CompactRequested(d))
    assert types(state.handle(ev.Delivered(d))) == ["compaction.requested"]
    step = state.handle(ev.Output([(EntryType.TURN_COMPLETED, {})]))
    assert types(step) == ["compaction.completed", "session.waiting"]


def test_a_question_parks_the_turn_and_the_answer_starts_the_next() -> None:
    state = launched(STREAM)
    request = {"requestId": "r1", "kind": "tool-approval", "action": {"callId": "c1"}}
    step = state.handle(ev.Output([(EntryType.INPUT_REQUESTED, {"requests": [request]})]))
    assert types(step) == ["input.requested", "turn.completed", "session.waiting"]
    assert state.phase is Phase.PARKED
    assert types(state.handle(ev.Output([(EntryType.ACTIONS_REQUESTED, {})]))) == []  # held
    answer = ev.Delivery(TurnInput.plain("deny"), ev.How.TURN)
    state.handle(ev.InputArrived(answer))
    assert answer.answers and not answer.answers[0].allow and answer.turn.message == ""
    step = state.handle(ev.Delivered(answer))
    assert types(step) == ["turn.started", "input.resolved", "action.result", "actions.requested"]
    denied = step.entries[2][1]
    assert denied is not None and denied["status"] == "rejected"
    assert denied["error"] == {
        "code": "TOOL_EXECUTION_DENIED",
        "message": "Tool execution was denied.",
    }
    assert denied["result"]["callId"] == "c1" and denied["turnId"] == "turn_1"


def test_cancel_stops_only_the_running_turn() -> None:
    state = launched(STREAM)
    assert not state.handle(ev.CancelRequested("turn_9")).outcome
    step = state.handle(ev.CancelRequested("turn_0"))
    assert step.outcome and effects(step) == ["Interrupt"]
    step = state.handle(ev.Output([(EntryType.TURN_FAILED, {"code": "interrupted"})]))
    assert types(step) == ["turn.cancelled", "session.waiting"]
    assert not state.handle(ev.CancelRequested()).outcome


def test_schema_checks_hold_what_follows_the_turn_end() -> None:
    state = SessionState(STREAM)
    turn = TurnInput("x", "x", output_schema={"type": "object"})
    state.handle(ev.Launched({}, turn))
    state.handle(ev.ProcessStarted())
    answer = {"id": "m", "role": "assistant", "content": '{"a": 1}'}
    step = state.handle(
        ev.Output(
            [
                (EntryType.MESSAGE_APPENDED, answer),
                (EntryType.TURN_COMPLETED, {}),
                (EntryType.OUTPUT, {"data": "after"}),
            ]
        )
    )
    assert types(step) == ["message.appended"] and effects(step) == ["Check"]
    step = state.handle(ev.Checked([], {"a": 1}))
    assert types(step) == ["result.completed", "turn.completed", "session.waiting", "output"]


def test_kill_while_a_per_turn_process_starts() -> None:
    state = launched(PER_TURN)
    ended_turn(state)
    state.handle(ev.ProcessExited(0, conversation=True))
    d = coven_input("go")
    assert effects(state.handle(ev.InputArrived(d))) == ["Spawn"]
    assert state.status is SessionStatus.IDLE
    state.handle(ev.KillRequested())
    step = state.handle(ev.ProcessStarted())
    assert effects(step) == ["Stop", "Settle"]
    assert isinstance(step.effects[1], ev.Settle) and step.effects[1].error is not None
    assert types(state.handle(ev.ProcessExited(-15)))[-1] == "session.failed"
    assert state.status is SessionStatus.KILLED


def test_events_the_phase_cannot_take_are_bugs() -> None:
    state = SessionState(STREAM)
    with pytest.raises(IllegalTransition):
        state.handle(ev.ProcessExited(0))
    with pytest.raises(IllegalTransition):
        state.handle(ev.Output([]))


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (0, {"exitCode": 0, "status": "completed"}),
        (3, {"exitCode": 3, "status": "failed"}),
        (-9, {"exitCode": None, "signal": "SIGKILL", "status": "failed"}),
    ],
)
def test_exit_entries_say_how_the_process_ended(code: int, expected: dict[str, Any]) -> None:
    state = launched(RAW)
    step = state.handle(ev.ProcessExited(code))
    assert step.entries[0] == (EntryType.EXIT, expected)


def test_real_time_signals_have_names() -> None:
    assert signal_name(signal.SIGTERM) == "SIGTERM"
    assert signal_name(signal.SIGRTMIN + 2) == "SIGRTMIN+2"


def test_refusals_change_nothing() -> None:
    state = launched(STREAM)
    before = (state.phase, state.turns, state.token, list(state.inbox.queue))
    with pytest.raises(CovenError):
        state.handle(ev.InputArrived(ev.Delivery(TurnInput.plain("x"), ev.How.TURN)))
    assert (state.phase, state.turns, state.token, list(state.inbox.queue)) == before
