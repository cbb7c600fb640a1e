"""The session lifecycle: every transition, decided from the facts in ``_facts.py``. Pure.

As in h11's ``_state.py``, all that affects the state machine is here, and no I/O. Each
event (``_events.py``) gets a :class:`~._events.Step`: entries to journal (stamped with
their turn) and effects to perform. A client's mistake is refused with its
:class:`~coven_trio.errors.CovenError` before anything changed; an event the phase cannot
take raises :class:`IllegalTransition`, a bug in the caller. Phases: ``_phases.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ..errors import TurnActive
from ..render import terminal_text
from ..vocabulary import Entry, EntryType, FailureCode, SessionStatus
from . import _events as ev
from ._facts import MAX_HELD, Facts, exit_data, failure
from ._inbox import ONE_SHOT
from ._interaction import Outcome
from ._phases import LIVE, OPEN, TERMINAL, TURN_ENDS, TURN_OVER, WITH_TURN, Phase, signal_name

KILLED_MESSAGE = "Session was killed."


class SessionState(Facts):
    """One session's phase and every fact its transitions depend on (:class:`Facts`);
    :meth:`handle` is the only way to change them."""

    def handle(self, event: ev.Event) -> ev.Step:
        """Apply ``event``: the entries it means and the effects to perform."""
        step = ev.Step()
        _HANDLERS[type(event)](self, event, step)
        return step

    # --- the session begins --------------------------------------------------------------

    def _launched(self, event: ev.Launched, step: ev.Step) -> None:
        self._require(self.phase is Phase.NEW, event)
        self.process = True
        step.journal(EntryType.SESSION_STARTED, event.started)
        self._begin(ev.Delivery(event.turn, ev.How.TURN), step)

    def _prewarmed(self, event: ev.Prewarmed, step: ev.Step) -> None:
        self._require(self.phase is Phase.NEW, event)
        self.process = not self.shape.per_turn  # a per-turn CLI starts at the first message
        self.phase = Phase.IDLE
        step.journal(EntryType.SESSION_STARTED, event.started)
        self._wait(step)

    # --- client input --------------------------------------------------------------------

    def _input(self, event: ev.InputArrived, step: ev.Step) -> None:
        self._live()
        d, inbox = event.delivery, self.inbox
        if d.how is ev.How.RAW or not self.shape.turns:
            if not self.process:  # its process is exiting
                raise self._gone()
            step.do(ev.Write(d))
        elif self.shape.one_shot:
            inbox.unrun(d, ONE_SHOT, step)
        elif self.between_turns and inbox.quiet:
            d.answers = self.interaction.answers(d.turn)
            if d.answers:  # a follow-up that answers questions is not itself a message
                d.turn = attrs.evolve(d.turn, message="", harness_text="")
            self._deliver(d, step)
        elif d.how is ev.How.TURN or d.turn.input_responses:
            raise TurnActive("A turn is already running.", details=self._ids())
        else:
            inbox.room(self._ids())
            if self.shape.stdin_turns:
                step.do(ev.Queue(d))  # on stdin now; queued once it is there
            else:
                inbox.queue.append(d)
                inbox.accept(d, step)

    def _deliver(self, d: ev.Delivery, step: ev.Step) -> None:
        """``d``'s turn starts now: on stdin, or in a process of its own."""
        self.inbox.pending = d
        if d.on_stdin:
            self._delivered(ev.Delivered(d), step)
        elif self.shape.per_turn:
            self.process = True  # starting
            step.do(ev.Spawn(d, resume=self.ran))
        else:
            step.do(ev.Write(d))

    def _delivered(self, event: ev.Delivered, step: ev.Step) -> None:
        d, inbox = event.delivery, self.inbox
        if not self.live:  # killed or stopped as it arrived: the client hears so
            inbox.pending = None if d is inbox.pending else inbox.pending
            step.do(ev.Settle(d, self._gone()))
        elif d.how is ev.How.RAW or not self.shape.turns:
            self._record(EntryType.INPUT, d.body, step)
            inbox.accept(d, step)
        elif d is inbox.pending:
            inbox.pending = None
            if d.how is ev.How.COMMAND:
                return self._commanded(d, step)
            if d.answers and self.interaction.partial(d.answers):  # other questions wait
                step.entries.extend(self._stamp(*e) for e in self.interaction.settle(d.answers))
                return inbox.accept(d, step)
            self._begin(d, step)
            held, self.held = self.held, []
            self._entries(held, step)  # the new turn's first entries (or a new question)
        else:  # a stream harness has it on stdin: it runs after the running turn
            d.on_stdin = True
            inbox.queue.append(d)
            inbox.accept(d, step)
            self._next(step)

    def _delivery_failed(self, event: ev.DeliveryFailed, step: ev.Step) -> None:
        d, inbox = event.delivery, self.inbox
        unspawned = d is inbox.pending and self.shape.per_turn  # its process never started
        if d is inbox.pending:
            inbox.pending = None
        if d.accepted:  # queued, then its process could not start: say so, never nothing
            inbox.unrun(d, f"its turn could not start: {event.error.message}", step)
        else:
            step.do(ev.Settle(d, event.error))
        if unspawned:
            self.process = False
            if self.phase is Phase.KILLING:
                self._finish(Phase.KILLED, FailureCode.KILLED, KILLED_MESSAGE, step)
            elif self.phase is Phase.STOPPING:
                self._complete("the daemon stopped before its turn", step)
        self._next(step)

    def _next(self, step: ev.Step) -> None:
        """Between turns with inputs waiting: the next one's turn starts."""
        if self.phase is Phase.IDLE and (d := self.inbox.take()) is not None:
            self._deliver(d, step)

    def _begin(self, d: ev.Delivery, step: ev.Step) -> None:
        """The harness has ``d``'s turn: journal it (input, the turn, settled answers)
        and spend the continuation token."""
        if d.body is not None:
            self._record(EntryType.INPUT, d.body, step)
        resolved = self.interaction.settle(d.answers)
        self.cancelling = False  # a cancel was for the turn before
        self.interaction.rotate()
        self.interaction.begin(d.turn)
        self.turns += 1
        self.phase = Phase.TURN
        d.started = True
        step.do(ev.BeginTurn(f"turn_{self.turns - 1}"))
        ids = d.turn.deliveries
        self._record(EntryType.TURN_STARTED, {"deliveryIds": list(ids)} if ids else None, step)
        if d.turn.message:
            self._record(EntryType.MESSAGE_RECEIVED, {"message": d.turn.message}, step)
        for type_, data in resolved:
            self._record(type_, data, step)
        self.inbox.accept(d, step)

    # --- controls ------------------------------------------------------------------------

    def _cancel(self, event: ev.CancelRequested, step: ev.Step) -> None:
        """``step.outcome``: whether a turn is being cancelled."""
        running = self.phase is Phase.TURN and self.shape.turns and self.inbox.pending is None
        if running and event.turn_id in (None, self.turn_id):
            self.cancelling = True
            step.do(ev.Interrupt())
            step.outcome = True

    def _clear(self, event: ev.ClearRequested, step: ev.Step) -> None:
        self._quiet()  # claude's stream clears with its /clear; the others by forgetting
        (self._deliver if self.shape.stdin_turns else self._commanded)(event.delivery, step)

    def _compact(self, event: ev.CompactRequested, step: ev.Step) -> None:
        self._quiet()
        if not self.shape.stdin_turns:
            raise self._cannot("compact its conversation")
        self._deliver(event.delivery, step)

    def _commanded(self, d: ev.Delivery, step: ev.Step) -> None:
        """The harness has the command (or needs none): its output is swallowed up to
        its turn's end; clear and compact end with ``session.waiting``, as eve's do."""
        ids = self._ids()
        if d.turn.message == "/compact":
            self._record(EntryType.COMPACTION_REQUESTED, ids, step)
            done = self._stamp(EntryType.COMPACTION_COMPLETED, ids)
            self.commands.append([done, self._waiting()])
        else:
            if self.shape.stdin_turns:
                self.commands.append([])
            step.do(ev.ForgetConversation())
            self.ran = False
            cleared = {**ids, "turnId": f"turn_{self.turns}", "sequence": self.turns}
            step.journal(EntryType.CONTEXT_CLEARED, cleared)
            self._wait(step)
        self.inbox.accept(d, step)

    # --- the harness's output ------------------------------------------------------------

    def _output(self, event: ev.Output, step: ev.Step) -> None:
        if self.phase in TERMINAL:  # what a failed session's process still printed
            return
        self._require(self.phase in OPEN, event)
        if self.checking is not None:  # behind a turn end whose answer is being checked
            self.checking.extend(event.entries)
        else:
            self._entries(event.entries, step)

    def _entries(self, entries: list[Entry], step: ev.Step) -> None:
        for index, (type_, data) in enumerate(entries):
            if self._entry(type_, data, step):  # checking the answer: the rest waits
                self.checking = entries[index + 1 :]
                return

    def _entry(self, type_: EntryType, data: dict[str, Any] | None, step: ev.Step) -> bool:
        """One entry of output; True when the turn's answer must be checked first."""
        if self.commands:  # a harness command's own turn: only its end matters
            if type_ in TURN_ENDS:
                step.entries.extend(self.commands.pop(0))
            return False
        if self.phase is Phase.PARKED and len(self.held) < MAX_HELD:
            self.held.append((type_, data))
            return False
        if type_ is EntryType.INPUT_REQUESTED and self._unasked(data, step):
            return False
        if self.shape.renders and (text := terminal_text(type_, data)):
            # marked, so views that show the structured entries skip the copy
            step.journal(EntryType.OUTPUT, {"data": text, "rendered": True})
        if type_ in TURN_ENDS:
            if self.phase in WITH_TURN:
                found = self.interaction.turn_end(type_ is EntryType.TURN_FAILED, data or {})
                if not isinstance(found, Outcome):
                    step.do(ev.Check(*found))
                    return True
                self._turn_ended(found, step)
            return False
        if data is not None:
            self.interaction.observe(type_, data)
        self._record(type_, data, step)
        if type_ is EntryType.INPUT_REQUESTED:
            self._end_turn(EntryType.TURN_COMPLETED, {}, step, Phase.PARKED)
        return False

    def _checked(self, event: ev.Checked, step: ev.Step) -> None:
        rest, self.checking = self.checking, None
        if rest is None:  # the turn ended meanwhile (exit, kill)
            return
        self._turn_ended(self.interaction.checked(event.errors, event.value), step)
        self._entries(rest, step)

    def _turn_ended(self, outcome: Outcome, step: ev.Step) -> None:
        for type_, data in outcome.extra:
            self._record(type_, data, step)
        kind = EntryType.TURN_FAILED if outcome.failed else EntryType.TURN_COMPLETED
        if self.cancelling:
            kind = EntryType.TURN_CANCELLED
        self.cancelling = False
        self._end_turn(kind, outcome.data, step)
        self._next(step)

    def _end_turn(
        self, kind: EntryType, data: dict[str, Any], step: ev.Step, waits_in: Phase = Phase.IDLE
    ) -> None:
        """The harness ended its turn (without a turn running: a no-op)."""
        if self.phase not in WITH_TURN:
            return
        self._record(kind, data, step)
        if self.phase is Phase.TURN and self._takes_turns:
            self.phase = waits_in
            self._wait(step)
        else:
            self.phase = TURN_OVER[self.phase]

    # --- the process ---------------------------------------------------------------------

    def _started(self, event: ev.ProcessStarted, step: ev.Step) -> None:
        if self.phase in TERMINAL:  # a process of an ended session: it goes at once
            step.do(ev.Kill())
            return
        self.process = True
        if self.phase not in LIVE:  # killed or stopped while it started
            step.do(ev.Stop())
        d = self.inbox.pending
        if d is None or not self.shape.per_turn:
            return
        self.inbox.pending = None
        if self.between_turns:
            self._begin(d, step)
        elif d.accepted:
            self.inbox.unrun(d, "the session ended before its turn", step)
        else:
            step.do(ev.Settle(d, self._gone()))

    def _exited(self, event: ev.ProcessExited, step: ev.Step) -> None:
        if self.phase in TERMINAL:  # it ended inside while its process was being reaped
            return
        self._require(self.phase in OPEN, event)
        self._release_held(step)
        self.process, self.checking = False, None
        self.ran = True
        code = event.returncode
        cancelled, self.cancelling = self.cancelling, False
        resumable = self.shape.per_turn and not self.shape.one_shot
        resumable = resumable and (cancelled or event.conversation)
        step.journal(EntryType.EXIT, exit_data(code))
        phase = self.phase
        if phase in (Phase.KILLING_TURN, Phase.KILLING):
            self._finish(Phase.KILLED, FailureCode.KILLED, KILLED_MESSAGE, step, code)
        elif cancelled and resumable and phase is Phase.TURN:
            self.phase = Phase.IDLE  # the client stopped the turn, not the session
            self._record(EntryType.TURN_CANCELLED, {}, step)
            self._wait(step)
        elif resumable and phase is Phase.BUSY and code >= 0:
            self.phase = Phase.IDLE  # the turn was over: its exit code ends nothing
            self._wait(step)
        elif code == 0 and resumable and phase is Phase.TURN:
            self._record(EntryType.TURN_COMPLETED, {}, step)
            self.phase = Phase.IDLE
            self._wait(step)
        elif code == 0:
            if phase in WITH_TURN:
                self._record(EntryType.TURN_COMPLETED, {}, step)
            self._complete("the session ended before its turn", step)
        else:
            how = f"signal {signal_name(-code)}" if code < 0 else f"code {code}"
            message = f"harness `{self.shape.harness}` exited with {how}"
            stopping = phase in (Phase.STOPPING_TURN, Phase.STOPPING)
            reason = FailureCode.STOPPED if stopping else FailureCode.HARNESS_EXITED
            self._finish(Phase.FAILED, reason, message, step, code)
        self._next(step)

    def _kill(self, event: ev.KillRequested, step: ev.Step) -> None:
        self._live()
        self._release_held(step)
        step.journal(EntryType.KILL, {"status": SessionStatus.KILLED})
        step.do(ev.Stop())
        if self.phase is Phase.TURN:
            self.phase = Phase.KILLING_TURN
        elif self.process:
            self.phase = Phase.KILLING
        else:  # a per-turn session between turns: nothing to stop
            self._finish(Phase.KILLED, FailureCode.KILLED, KILLED_MESSAGE, step)

    def _shutdown(self, event: ev.ShutdownRequested, step: ev.Step) -> None:
        if self.phase is Phase.NEW or self.phase not in LIVE:
            return  # not begun, already stopping, being killed, or over
        self._release_held(step)
        step.do(ev.Stop())
        if self.phase is Phase.TURN:
            self.phase = Phase.STOPPING_TURN
        elif self.process:
            self.phase = Phase.STOPPING
        else:
            self._complete("the daemon stopped before its turn", step)

    def _complete(self, reason: str, step: ev.Step) -> None:
        self.inbox.unrun_all(reason, step)
        self.phase = Phase.COMPLETED
        step.journal(EntryType.SESSION_COMPLETED, None)
        step.do(ev.Ended())

    def _aborted(self, event: ev.Aborted, step: ev.Step) -> None:
        if self.phase in TERMINAL:
            return
        step.do(ev.Kill())
        end = Phase.KILLED if self.status is SessionStatus.KILLED else Phase.FAILED
        self._finish(end, event.code, event.message, step)

    def _finish(
        self, end: Phase, code: FailureCode, message: str, step: ev.Step, rc: int | None = None
    ) -> None:
        """Fail the running turn (if any), say what will never run, end the session."""
        if self.phase in WITH_TURN:
            self._record(EntryType.TURN_FAILED, {"code": code, "message": message}, step)
        self.inbox.unrun_all(f"the session ended ({code}) before its turn", step)
        self.phase = end
        step.journal(EntryType.SESSION_FAILED, failure(code, message, rc))
        step.do(ev.Ended())


_HANDLERS: dict[type, Callable[[SessionState, Any, ev.Step], None]] = {
    ev.Launched: SessionState._launched,
    ev.Prewarmed: SessionState._prewarmed,
    ev.InputArrived: SessionState._input,
    ev.Delivered: SessionState._delivered,
    ev.DeliveryFailed: SessionState._delivery_failed,
    ev.ProcessStarted: SessionState._started,
    ev.Output: SessionState._output,
    ev.Checked: SessionState._checked,
    ev.ProcessExited: SessionState._exited,
    ev.CancelRequested: SessionState._cancel,
    ev.PersonAttached: SessionState._attached,
    ev.PersonLeft: SessionState._left,
    ev.ClearRequested: SessionState._clear,
    ev.CompactRequested: SessionState._compact,
    ev.KillRequested: SessionState._kill,
    ev.ShutdownRequested: SessionState._shutdown,
    ev.Aborted: SessionState._aborted,
}
