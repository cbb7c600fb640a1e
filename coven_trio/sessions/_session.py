"""A session: one supervised harness run and its journal.

The session wires the three parts together and is the only writer of its journal:
:class:`~._state.SessionState` decides what every event means, the
:class:`~._supervisor.Supervisor` runs the processes and hands their translated output
in, and :class:`~._interaction.Interaction` keeps the client side (open questions,
output schema, continuation token). Client requests are checked against the state
before anything is sent to the harness, and journaled only once the harness has it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import trio

from .._clock import utc_now
from ..config import Config
from ..errors import (
    CovenError,
    InternalError,
    SessionNotLive,
    TurnActive,
)
from ..harness import Driver
from ..journal import Journal
from ..models import SessionRecord, unstructure
from ..render import terminal_text
from ..vocabulary import Entry, EntryType, FailureCode, LaunchMode
from ._controls import Controls
from ._delivery import Courier, Delivery
from ._interaction import Answer, Interaction, TurnInput
from ._record import session_record
from ._state import (
    Aborted,
    Event,
    InputRequested,
    KillRequested,
    Phase,
    ProcessExited,
    Recorded,
    SessionState,
    SessionStatus,
    ShutdownRequested,
    TurnBegan,
    TurnEnded,
    TurnState,
)
from ._supervisor import Supervisor

log = logging.getLogger("coven_trio.sessions")

_TURN_ENDS = (EntryType.TURN_COMPLETED, EntryType.TURN_FAILED)
#: Entries a parked session holds for its next turn; past this they are journaled
#: at once (a harness that keeps printing while it waits for an answer).
MAX_HELD = 1000


@attrs.define(eq=False)
class Session(Controls):
    """One supervised harness run and its journal."""

    id: str
    harness: str
    driver: Driver
    project_root: str
    cwd: str
    title: str
    launch_mode: LaunchMode
    config: Config
    journal: Journal
    first_turn: TurnInput
    agent: str | None = None
    #: The session whose harness conversation this one continues.
    resumed_from: str | None = None
    #: A per-turn session takes follow-ups; a one-shot one ends with its first process.
    follow_ups: bool = True
    #: Structured output is also journaled as terminal text (``output``) for clients that
    #: show nothing else (Coven's); eve's clients read the structured entries.
    renders: bool = False
    created_at: str = attrs.field(factory=utc_now)
    exit_code: int | None = None
    #: Set once the session has ended and its processes are reaped.
    done: trio.Event = attrs.field(factory=trio.Event)
    #: Called once when the session ends (the registry's retention).
    on_end: Callable[[Session], None] | None = None
    #: Called when the status changes (the store keeps the record current).
    on_change: Callable[[Session], None] | None = None
    #: Called with the harness processes running now (the store records them).
    on_processes: Callable[[Session, list[dict[str, int]]], None] | None = None
    state: SessionState = attrs.field(init=False)
    interaction: Interaction = attrs.field(init=False, factory=Interaction)
    supervisor: Supervisor = attrs.field(init=False)
    _started: bool = attrs.field(init=False, default=False)
    courier: Courier = attrs.field(init=False)
    #: What the harness printed while parked at a question: it belongs to the next turn.
    _held: list[Entry] = attrs.field(init=False, factory=list)
    #: The session was created without a message (eve's prewarm): no turn yet.
    prewarmed: bool = False
    #: A process of this session has run (a per-turn harness's next one may resume).
    _ran: bool = attrs.field(init=False, default=False)
    #: The client cancelled the running turn; its end is ``turn.cancelled``.
    _cancelling: bool = attrs.field(init=False, default=False)
    #: Harness commands sent as turns of their own (``/clear``, ``/compact``) whose
    #: output is not the conversation's: swallowed up to their turn's end, then this.
    _commands: list[Entry | None] = attrs.field(init=False, factory=list)

    def __attrs_post_init__(self) -> None:
        self.state = SessionState(self.harness)
        self.supervisor = Supervisor(
            self.id, self.driver, self.cwd, self.config, self._on_output, self._processes
        )
        self.interaction.begin(self.first_turn)
        self.courier = Courier(self._not_live)

    # --- views ---------------------------------------------------------------------------

    @property
    def status(self) -> SessionStatus:
        return self.state.status

    @property
    def live(self) -> bool:
        return self.state.live

    @property
    def pid(self) -> int | None:
        return self.supervisor.pid

    @property
    def turns(self) -> int:
        return self.state.turns

    @property
    def continuation_token(self) -> str:
        return self.interaction.continuation_token

    def describe(self) -> dict[str, Any]:
        """The record as the wire carries it."""
        result: dict[str, Any] = unstructure(self.record())
        return result

    def _processes(self, processes: list[dict[str, int]]) -> None:
        if self.on_processes is not None:
            self.on_processes(self, processes)

    def record(self) -> SessionRecord:
        return session_record(self)

    # --- the journal's one writer --------------------------------------------------------

    def handle(self, event: Event) -> None:
        """Apply ``event`` to the state and journal what it means."""
        before = self.state.status
        for type_, data in self.state.handle(event):
            self.journal.append(type_, data)
            if type_ is EntryType.TURN_STARTED and data is not None:
                self.driver.begin_turn(str(data["turnId"]))  # what follows is this turn's
        if self.state.status is not before and self.on_change is not None:
            self.on_change(self)
        if self.state.ended:
            if not self.journal.closed:
                self.journal.close()
        elif self.journal.full:
            log.warning("session %s: journal full, ending the session", self.id)
            self.supervisor.kill()
            self.courier.interrupt()
            limit = self.journal.hard_max_bytes
            self.handle(Aborted(FailureCode.JOURNAL_FULL, f"The journal reached {limit} bytes."))

    async def _on_output(self, entries: list[Entry]) -> None:
        """The supervisor's sink: translated harness output, in order. Parked at a
        question, the harness may still print (the next tool's call, its own next
        question): held, so nothing follows ``session.waiting`` in the journal."""
        for type_, data in entries:
            if self._commands:  # a harness command's own turn: only its end matters
                if type_ in _TURN_ENDS and (after := self._commands.pop(0)) is not None:
                    self.handle(Recorded(*after))
                continue
            if self.state.phase is Phase.PARKED and len(self._held) < MAX_HELD:
                self._held.append((type_, data))
                continue
            if self.renders and (text := terminal_text(type_, data)):
                # marked, so views that show the structured entries skip the copy
                self.handle(Recorded(EntryType.OUTPUT, {"data": text, "rendered": True}))
            if type_ in _TURN_ENDS:
                if self.state.turn is TurnState.ACTIVE:
                    extra, failed, end = await self.interaction.outcome(
                        type_ is EntryType.TURN_FAILED, data or {}
                    )
                    for extra_type, extra_data in extra:
                        self.handle(Recorded(extra_type, extra_data))
                    cancelled, self._cancelling = self._cancelling, False
                    token, takes = self.continuation_token, self._takes_turns
                    self.handle(TurnEnded(failed, end, token, takes, cancelled=cancelled))
                    if self.courier.queued and self.state.phase is Phase.IDLE:
                        queued = self.courier.queued.pop(0)  # on stdin already
                        self._begin(queued.turn, queued.input_body, [])
            elif type_ is EntryType.INPUT_REQUESTED:
                self.interaction.observe(type_, data or {})
                self.handle(InputRequested(data or {}, self.continuation_token, self._takes_turns))
            else:
                if data is not None:
                    self.interaction.observe(type_, data)
                self.handle(Recorded(type_, data))

    @property
    def _takes_turns(self) -> bool:
        """The harness's process stays across turns (the session waits for the next)."""
        return not self.driver.per_turn and self.supervisor.pid is not None

    # --- lifecycle -----------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The session's whole life. Reports started once its first process runs and has
        its prompt; a spawn or prompt-delivery failure raises
        :class:`~coven_trio.errors.LaunchFailed` before that, leaving nothing behind."""

        def started() -> None:
            self._started = True
            task_status.started()

        try:
            if self.prewarmed and self.driver.per_turn:
                started()  # the first message starts the first process
            else:
                prompt = self.first_turn.harness_text
                self.driver.output_schema = self.first_turn.output_schema
                stdin = None if self.prewarmed else self.driver.prompt_stdin(prompt)
                code = await self.supervisor.run(self.driver.first_argv(prompt), stdin, started)
                self._exited(code)
            while self.driver.per_turn and self.state.phase is Phase.IDLE:
                delivery = await self.courier.next(lambda: self.state.phase is Phase.IDLE)
                if delivery is not None:
                    await self._run_turn(delivery)
        except Exception as exc:
            if not self._started:
                raise  # the launch fails: nothing exists yet
            self._crash(exc)  # one session's bug ends that session, never the daemon
        finally:
            self.driver.close()
            if self._started:
                # Cancelled from outside (forced daemon stop): say so, never end silently.
                self.handle(Aborted(FailureCode.STOPPED, "daemon stopped"))
                if self.on_end is not None:
                    self.on_end(self)
            self.done.set()

    def _crash(self, exc: BaseException) -> None:
        """An unexpected exception: end the session (``internal_error``), stop its
        processes at once, log the traceback; the daemon and other sessions go on."""
        log.error("session %s failed inside", self.id, exc_info=exc)
        self.supervisor.kill()
        self.courier.interrupt()
        while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]  # name the fault, not the nurseries around it
        message = f"internal error: {type(exc).__name__}: {exc}"[:500]
        try:
            self.handle(Aborted(FailureCode.INTERNAL_ERROR, message))
        except Exception:  # even journaling fails: end the journal without its last word
            log.exception("session %s: could not journal its failure", self.id)
            self.journal.close()

    @contextlib.contextmanager
    def _boundary(self) -> Iterator[None]:
        """Around request-side work on the session: a client error stays a client error;
        anything else ends the session (and is a 500 for that request)."""
        try:
            yield
        except (CovenError, trio.Cancelled):
            raise
        except Exception as exc:
            self._crash(exc)
            raise InternalError("The session failed inside; see the daemon log.") from exc

    def _release_held(self) -> None:
        """The parked turn ends without a next one (exit, kill, shutdown): what the
        harness printed meanwhile is journaled as it came (no turn to stamp)."""
        held, self._held = self._held, []
        for type_, data in held:
            if type_ not in _TURN_ENDS and not self.state.ended:
                self.handle(Recorded(type_, data))

    def _exited(self, returncode: int) -> None:
        if self.state.ended:  # ended inside while its process was still being reaped
            return
        self._release_held()
        self.exit_code = returncode if returncode >= 0 else None
        self._ran = True
        cancelled, self._cancelling = self._cancelling, False
        per_turn = self.follow_ups and self.driver.per_turn
        resumable = per_turn and (cancelled or self.driver.conversation_id is not None)
        token = self.continuation_token
        self.handle(ProcessExited(returncode, resumable, token, cancelled=cancelled))

    async def _run_turn(self, delivery: Delivery) -> None:
        """One follow-up turn of a per-turn harness: its own process."""

        def started() -> None:
            try:
                self._begin(delivery.turn, delivery.input_body, delivery.answers)
            except CovenError as exc:  # killed or stopped while the process started
                delivery.finish(exc)
            else:
                delivery.finish()

        prompt = delivery.turn.harness_text
        try:
            self.driver.output_schema = delivery.turn.output_schema
            argv = (self.driver.next_argv if self._ran else self.driver.first_argv)(prompt)
            code = await self.supervisor.run(argv, self.driver.prompt_stdin(prompt), started)
        except CovenError as exc:  # the process could not start: the session is unchanged
            delivery.finish(exc)
            return
        except BaseException:  # the client must not wait for a dead turn
            delivery.finish(InternalError("The session failed inside; see the daemon log."))
            raise
        self._exited(code)

    # --- requests from clients -----------------------------------------------------------

    async def send_input(self, data: str, body: dict[str, Any]) -> None:
        """``POST …/input``: raw bytes to a PTY/command, or a new turn for turn-based
        harnesses. Journals ``input`` once the harness has it."""
        with self._boundary():
            await self._send_input(data, body)

    async def _send_input(self, data: str, body: dict[str, Any]) -> None:
        self._require_live()
        if self.driver.has_turns:
            if self.state.between_turns:
                await self._start_turn(TurnInput.plain(data), body)
            else:
                await self._queue(TurnInput.plain(data), body)
            return
        if self.supervisor.pid is None:  # the process is exiting
            raise self._not_live()
        with self.courier.writing(), self.supervisor.output_held():
            await self.supervisor.write(data.encode())
            self.handle(Recorded(EntryType.INPUT, body))

    async def start_turn(
        self, turn: TurnInput, *, input_body: dict[str, Any] | None = None
    ) -> None:
        """Start a follow-up turn (409 ``turn_active`` mid-turn), answering open harness
        questions first. Nothing is journaled and the continuation token stays until
        the harness has the turn."""
        with self._boundary():
            await self._start_turn(turn, input_body)

    async def _start_turn(self, turn: TurnInput, input_body: dict[str, Any] | None) -> None:
        self._require_live()
        if not self.state.between_turns or self.courier.busy:
            raise TurnActive("A turn is already running.", details={"sessionId": self.id})
        answers = self.interaction.answers(turn)
        lines = self.interaction.answer_lines(self.driver, answers)
        if answers:
            turn = attrs.evolve(turn, message="", harness_text="")
        if self.driver.per_turn:
            await self.courier.hand_over(Delivery(turn, answers, input_body))
            return
        if turn.harness_text:
            line = self.driver.turn_input(turn.harness_text)
            if line is not None:
                lines.append(line)
        with self.courier.writing(), self.supervisor.output_held():
            for line in lines:
                await self.supervisor.write(line)
            self._begin(turn, input_body, answers)
            held, self._held = self._held, []
            await self._on_output(held)  # the new turn's first entries (or a new question)

    def _begin(
        self, turn: TurnInput, input_body: dict[str, Any] | None, answers: list[Answer]
    ) -> None:
        """The harness has the turn: journal it (input, settled answers, the turn) and
        spend the continuation token."""
        if not self.state.between_turns:
            raise self._not_live()
        if input_body is not None:
            self.handle(Recorded(EntryType.INPUT, input_body))
        resolved = self.interaction.settle(answers)
        self._cancelling = False  # a cancel was for the turn before
        self.interaction.rotate()
        self.interaction.begin(turn)
        self.handle(TurnBegan(turn.message, turn.deliveries))
        if resolved is not None:
            self.handle(Recorded(*resolved))

    def _not_live(self) -> SessionNotLive:
        return SessionNotLive("Session is not live.", details={"sessionId": self.id})

    def _require_live(self) -> None:
        if not self.state.live:
            raise self._not_live()

    def kill(self) -> None:
        """``POST …/kill``: journal ``kill``, stop the harness with the full escalation.
        A write to the harness still in progress is cancelled."""
        self._require_live()
        with self._boundary():
            self._release_held()
            self.handle(KillRequested(self.supervisor.active))
            self._interrupt()

    async def stop(self) -> None:
        """Daemon shutdown: stop with the full escalation and wait until done."""
        if not self.state.ended and self.state.phase is not Phase.NEW:
            self._release_held()
            self.handle(ShutdownRequested(self.supervisor.active))
            self._interrupt()
        await self.done.wait()

    def _interrupt(self) -> None:
        self.supervisor.request_stop()
        self.courier.interrupt()
