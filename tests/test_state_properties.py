"""The whole session state under random interleavings (Hypothesis stateful testing).

A model runtime performs the effects the state asks for the way the real one does (a
write finishes or fails later, a spawn starts a process later, output only while a
process runs, a kill or stop makes it exit), while clients send input in every way at
any time, cancel, clear, compact, kill, and the daemon stops or aborts. After every step:

* a refused request changed nothing;
* at most one turn is active; every turn entry carries the current turn's id;
* a terminal state is final, and its entry is the journal's last;
* ``session.waiting`` follows every ``context.cleared``, and comes between a turn's end
  and the next turn's start;
and once the session has ended, every accepted input was delivered exactly once or
journaled as not run, exactly once. CI runs at least 10,000 steps.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from coven_trio.errors import CovenError, LaunchFailed, SendInputFailed
from coven_trio.sessions import _events as ev
from coven_trio.sessions._interaction import TurnInput
from coven_trio.sessions._phases import TERMINAL, Phase, Shape
from coven_trio.sessions._state import SessionState
from coven_trio.vocabulary import TURN_SCOPED, Ask, Entry, EntryType, FailureCode

SHAPES = {
    "stream": Shape("s", "claude", stdin_turns=True, mode="stream"),
    # run claude: its questions go to a person following, else are denied at once
    "stream_person": Shape("s", "claude", stdin_turns=True, mode="stream", ask=Ask.PERSON),
    "per_turn": Shape("s", "codex", per_turn=True, mode="nonInteractive"),
    "one_shot": Shape("s", "codex", per_turn=True, one_shot=True, mode="nonInteractive"),
    "raw": Shape("s", "command", turns=False, mode="interactive"),
}
ENDS = {EntryType.TURN_COMPLETED, EntryType.TURN_FAILED, EntryType.TURN_CANCELLED}
TERMINALS = {EntryType.SESSION_COMPLETED, EntryType.SESSION_FAILED}
#: Output a harness may print, as translated entries.
OUTPUT = st.sampled_from(
    [
        (EntryType.AGENT_CONTENT_DELTA, {"text": "x"}),
        (EntryType.MESSAGE_APPENDED, {"id": "m", "role": "assistant", "content": "{}"}),
        (EntryType.TURN_COMPLETED, {}),
        (EntryType.TURN_FAILED, {"code": "x", "message": "y"}),
        (EntryType.INPUT_REQUESTED, {"requests": [{"requestId": "r", "kind": "question"}]}),
        (EntryType.INPUT_REQUESTED, {"requests": [{"requestId": "t", "kind": "tool-approval"}]}),
        (EntryType.OUTPUT, {"data": "text"}),
    ]
)


class SessionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.journal: list[Entry] = []
        self.accepted: dict[int, str] = {}  # delivery id -> its text
        self.writes: list[ev.Delivery] = []  # writes in flight
        self.spawn: ev.Delivery | None = None
        self.checks: int = 0
        self.process = "none"  # none | starting | running | stopping
        self.count = 0
        self.steps = 0
        self.people = 0

    # --- the model runtime -------------------------------------------------------------

    def apply(self, event: ev.Event) -> ev.Step:
        self.steps += 1
        step = self.state.handle(event)
        self.journal.extend(step.entries)
        for effect in step.effects:
            if isinstance(effect, ev.Write | ev.Queue):
                self.writes.append(effect.delivery)
            elif isinstance(effect, ev.Spawn):
                self.spawn, self.process = effect.delivery, "starting"
            elif isinstance(effect, ev.Check):
                self.checks += 1
            elif isinstance(effect, ev.Settle) and effect.error is None:
                self.accepted[effect.delivery.id] = effect.delivery.turn.message
            elif isinstance(effect, ev.Stop | ev.Kill) and self.process == "running":
                self.process = "stopping"
            elif isinstance(effect, ev.Ended):
                self.writes.clear()  # a kill cancels writes in flight
        return step

    def request(self, event: ev.Event) -> None:
        """A client's request: refused with nothing changed, or applied."""
        before = (
            self.state.phase,
            self.state.turns,
            self.state.token,
            list(self.state.inbox.queue),
            len(self.journal),
        )
        try:
            self.apply(event)
        except CovenError:
            after = (
                self.state.phase,
                self.state.turns,
                self.state.token,
                list(self.state.inbox.queue),
                len(self.journal),
            )
            assert after == before

    @initialize(shape=st.sampled_from(sorted(SHAPES)), prewarm=st.booleans())
    def launch(self, shape: str, prewarm: bool) -> None:
        self.state = SessionState(SHAPES[shape])
        if prewarm and SHAPES[shape].turns and not SHAPES[shape].one_shot:
            self.apply(ev.Prewarmed({}))
            self.process = "running" if not SHAPES[shape].per_turn else "none"
        else:
            self.apply(ev.Launched({}, TurnInput.plain("first")))
            self.process = "starting"

    def text(self) -> str:
        self.count += 1
        return f"msg-{self.count}"

    # --- clients -----------------------------------------------------------------------

    @rule(how=st.sampled_from([ev.How.QUEUE, ev.How.TURN]), answer=st.booleans())
    def send(self, how: ev.How, answer: bool) -> None:
        if not self.state.shape.turns:
            how = ev.How.RAW
        text = "yes" if answer else self.text()
        body = {"data": text} if how is not ev.How.TURN else None
        self.request(ev.InputArrived(ev.Delivery(TurnInput.plain(text), how, body=body)))

    @rule(turn=st.sampled_from([None, "turn_0", "turn_1"]))
    def cancel(self, turn: str | None) -> None:
        self.request(ev.CancelRequested(turn))

    @rule(compact=st.booleans(), chance=st.integers(0, 3))
    def clear_or_compact(self, compact: bool, chance: int) -> None:
        if chance:
            return
        name = "/compact" if compact else "/clear"
        d = ev.Delivery(TurnInput.plain(name), ev.How.COMMAND)
        self.request(ev.CompactRequested(d) if compact else ev.ClearRequested(d))

    #: Ending the session is one rule with a small chance, so most runs live long enough
    #: for several turns, questions and queues before it ends.
    @rule(how=st.sampled_from(["kill", "shutdown", "abort"]), chance=st.integers(0, 11))
    def end(self, how: str, chance: int) -> None:
        if chance:
            return
        if how == "kill":
            self.request(ev.KillRequested())
        elif how == "shutdown":
            self.apply(ev.ShutdownRequested())
        elif self.state.phase not in TERMINAL:
            self.apply(ev.Aborted(FailureCode.INTERNAL_ERROR, "boom"))
            if self.process != "none":
                self.process = "stopping"

    # --- the runtime reports -----------------------------------------------------------

    @precondition(lambda self: self.writes)
    @rule(fails=st.integers(0, 3), pick=st.integers(0, 3))
    def write_done(self, fails: int, pick: int) -> None:
        d = self.writes.pop(pick % len(self.writes))
        failed = ev.DeliveryFailed(d, SendInputFailed("broken"))
        self.apply(failed if fails == 0 else ev.Delivered(d))

    @precondition(lambda self: self.process == "starting")
    @rule(ok=st.booleans())
    def process_started(self, ok: bool) -> None:
        if self.spawn is not None and not ok:
            d, self.spawn, self.process = self.spawn, None, "none"
            self.apply(ev.DeliveryFailed(d, LaunchFailed("no such file")))
            return
        self.spawn, self.process = None, "running"
        self.apply(ev.ProcessStarted())

    @precondition(lambda self: self.process == "running" and not self.writes)
    @rule(entries=st.lists(OUTPUT, min_size=1, max_size=4))
    def output(self, entries: list[Entry]) -> None:
        pending = set(self.state.interaction.pending)
        unattended = self.state.shape.ask is Ask.PERSON and not self.people
        in_turn = self.state.phase is Phase.TURN
        step = self.apply(ev.Output(list(entries)))
        if unattended:  # nobody to ask: nothing asked now is left open...
            assert set(self.state.interaction.pending) <= pending
            if in_turn and entries[0][0] is EntryType.INPUT_REQUESTED:
                # ...and the first question of a turn is denied on the spot
                assert any(isinstance(e, ev.Answer) for e in step.effects)

    @rule(attach=st.booleans())
    def person(self, attach: bool) -> None:
        """A person starts or stops following the session (a chat, the dashboard)."""
        if attach:
            self.people += 1
            self.apply(ev.PersonAttached())
        elif self.people:
            self.people -= 1
            self.apply(ev.PersonLeft())
        assert self.state.people == self.people

    @precondition(lambda self: self.checks > 0)
    @rule(ok=st.booleans())
    def checked(self, ok: bool) -> None:
        self.checks -= 1
        self.apply(ev.Checked([] if ok else ["no"], {}))

    @precondition(lambda self: self.process in ("running", "stopping") and not self.checks)
    @rule(
        code=st.sampled_from([0, 1, -9, -15]), conversation=st.booleans(), chance=st.integers(0, 3)
    )
    def exit(self, code: int, conversation: bool, chance: int) -> None:
        """A per-turn process exits after its turn; any other exits now and then (or when
        it was stopped)."""
        turn_over = self.state.shape.per_turn and self.state.turn.value == "none"
        if chance and not turn_over and self.process != "stopping":
            return
        self.process = "none"
        self.apply(ev.ProcessExited(code, conversation))

    # --- invariants --------------------------------------------------------------------

    @invariant()
    def at_most_one_turn_and_stamped_with_it(self) -> None:
        active, turn = False, None
        for type_, data in self.journal:
            if type_ is EntryType.TURN_STARTED:
                assert not active, "a turn started while another ran"
                active, turn = True, (data or {}).get("turnId")
            elif type_ in ENDS:
                active = False
            if type_ in TURN_SCOPED and type_ is not EntryType.TURN_STARTED and data:
                assert data.get("turnId") in (turn, None) or type_ in (
                    EntryType.COMPACTION_REQUESTED,
                    EntryType.COMPACTION_COMPLETED,
                )

    @invariant()
    def terminal_is_final_and_last(self) -> None:
        ends = [i for i, (t, _) in enumerate(self.journal) if t in TERMINALS]
        assert len(ends) <= 1
        if ends:
            assert ends[0] == len(self.journal) - 1
            assert self.state.phase in TERMINAL
        else:
            assert self.state.phase not in TERMINAL

    @invariant()
    def waiting_follows_clears_and_turn_ends(self) -> None:
        kinds = [t for t, _ in self.journal]
        for i, kind in enumerate(kinds):
            if kind is EntryType.CONTEXT_CLEARED:
                assert kinds[i + 1 : i + 2] == [EntryType.SESSION_WAITING]
        since_end = False
        for kind in kinds:
            if kind in ENDS:
                since_end = True
            elif kind is EntryType.SESSION_WAITING:
                since_end = False
            elif kind is EntryType.TURN_STARTED:
                assert not since_end, "a turn started with no session.waiting after the last"

    def teardown(self) -> None:
        """End the session (as the daemon's stop would), then account for every input."""
        if not hasattr(self, "state"):
            return
        if self.state.phase not in TERMINAL:
            self.apply(ev.Aborted(FailureCode.STOPPED, "daemon stopped"))
        delivered: dict[str, int] = {}
        for type_, data in self.journal:
            data = data or {}
            if type_ is EntryType.MESSAGE_RECEIVED:
                delivered[data["message"]] = delivered.get(data["message"], 0) + 1
            elif type_ is EntryType.INPUT:
                text = data.get("data", data.get("message"))
                if data.get("delivered") is False or not self.state.shape.turns:
                    delivered[text] = delivered.get(text, 0) + 1
        for text in self.accepted.values():
            if text.startswith("msg-"):
                assert delivered.get(text) == 1, (text, self.journal)


SessionMachine.TestCase.settings = settings(
    max_examples=1000,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_session_state_machine = SessionMachine.TestCase
