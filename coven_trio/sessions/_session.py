"""A session: one supervised harness run, its journal, and what clients may ask of it.

The session is the only writer of its journal. Everything it is asked or told becomes an
event for its :class:`~._state.SessionState`, whose answer — entries and effects — it
journals and hands to its :class:`~._runner.Runner` to perform. A client's request is
refused by the state before anything is sent to the harness; input is journaled only
once the harness has it.
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
from ..errors import CovenError, InternalError, NotATerminal, SessionNotLive
from ..harness import Driver
from ..journal import Journal
from ..models import SessionRecord, unstructure
from ..vocabulary import Entry, FailureCode, LaunchMode, SessionStatus
from . import _events as ev
from ._interaction import TurnInput
from ._phases import Shape
from ._record import session_record
from ._runner import Runner
from ._state import SessionState

log = logging.getLogger("coven_trio.sessions")


@attrs.define(eq=False)
class Session:
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
    #: Created without a message (eve's prewarm): no turn yet.
    prewarmed: bool = False
    #: The record as launched (its process just started): what a launch answers, as
    #: Coven's does, however far the session got while the store committed it.
    launched: SessionRecord | None = None
    #: The eve client generation it speaks (``"16"``, ``"26"``), decided once.
    eve_stream_version: str | None = None
    #: Its git worktree (``isolation``), as the record shows it; None once discarded.
    worktree: dict[str, Any] | None = None
    created_at: str = attrs.field(factory=utc_now)
    #: Set once the session has ended and its processes are reaped.
    done: trio.Event = attrs.field(factory=trio.Event)
    #: Called once when the session ends (the registry's retention).
    on_end: Callable[[Session], None] | None = None
    #: Called when the status changes (the store keeps the record current).
    on_change: Callable[[Session], None] | None = None
    #: Called with the entries each step journaled (the daemon's notifications).
    on_entries: Callable[[Session, list[Entry]], None] | None = None
    #: Called with the harness processes running now (the store records them).
    on_processes: Callable[[Session, list[dict[str, int]]], None] | None = None
    state: SessionState = attrs.field(init=False)
    runner: Runner = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        driver = self.driver
        shape = Shape(
            session_id=self.id,
            harness=self.harness,
            turns=driver.has_turns,
            per_turn=driver.per_turn,
            stdin_turns=driver.turn_input("") is not None,
            one_shot=not self.follow_ups,
            renders=self.renders,
            mode=str(self.launch_mode),
            ask=driver.asks,
        )
        self.state = SessionState(shape)
        self.runner = Runner(self.id, driver, self.cwd, self.config, self.apply, self._processes)

    # --- views ---------------------------------------------------------------------------

    @property
    def status(self) -> SessionStatus:
        return self.state.status

    @property
    def live(self) -> bool:
        return self.state.live

    @property
    def pid(self) -> int | None:
        return self.runner.supervisor.pid

    @property
    def exit_code(self) -> int | None:
        return self.runner.exit_code

    @property
    def turns(self) -> int:
        return self.state.turns

    @property
    def continuation_token(self) -> str:
        return self.state.token

    def describe(self) -> dict[str, Any]:
        """The record as the wire carries it."""
        result: dict[str, Any] = unstructure(self.record())
        return result

    def record(self) -> SessionRecord:
        return session_record(self)

    def as_launched(self) -> SessionRecord:
        """What a launch answers: the record as the first process started."""
        return self.launched if self.launched is not None else self.record()

    def speaks(self, stream_version: str) -> None:
        """The eve generation of a session eve made (an agent's), decided by the first
        request that shows it; kept with its record (so it survives a restart)."""
        if self.eve_stream_version is None and self.agent is not None:
            self.eve_stream_version = stream_version
            if self.on_change is not None:
                self.on_change(self)

    def _processes(self, processes: list[dict[str, int]]) -> None:
        if self.on_processes is not None:
            self.on_processes(self, processes)

    # --- the journal's one writer --------------------------------------------------------

    def apply(self, event: ev.Event) -> list[ev.Effect]:
        """Apply ``event``; returns the effects that must be awaited (:meth:`_handle`)."""
        return self._handle(event).effects

    def _handle(self, event: ev.Event) -> ev.Step:
        """Apply ``event`` to the state, journal what it means and perform the effects
        that take no waiting; the step keeps the ones that do."""
        before = self.state.status
        step = self.state.handle(event)
        journal = self.journal
        for type_, data in step.entries:
            journal.append(type_, data)
        if step.entries and self.on_entries is not None:
            self.on_entries(self, step.entries)
        step.effects = [effect for effect in step.effects if not self.runner.now(effect)]
        if self.state.status is not before and self.on_change is not None:
            self.on_change(self)
        if self.state.ended:
            if not journal.closed:
                journal.close()
        elif journal.full:
            log.warning("session %s: journal full, ending the session", self.id)
            full = f"The journal reached {journal.hard_max_bytes} bytes."
            step.effects += self.apply(ev.Aborted(FailureCode.JOURNAL_FULL, full))
        return step

    async def _request(self, event: ev.Event, delivery: ev.Delivery | None = None) -> ev.Step:
        """A client's request: refused (its error) before anything changed, or applied,
        performed, and — for a delivery — answered once it is settled."""
        waiter = self.runner.expect(delivery) if delivery is not None else None
        try:
            with self._boundary():
                step = self._handle(event)
                for effect in step.effects:
                    await self.runner.perform(effect)
        except BaseException:
            if delivery is not None:
                self.runner.forget(delivery)
            raise
        if waiter is not None:
            await waiter.wait()
        return step

    # --- lifecycle -----------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The session's whole life. Reports started once its first process runs and has
        its prompt; a spawn or prompt-delivery failure raises
        :class:`~coven_trio.errors.LaunchFailed` before that, leaving nothing behind."""
        started = False

        def report() -> None:
            nonlocal started
            started = True
            task_status.started()

        try:
            first: tuple[list[str], bytes | None] | None = None
            if not (self.prewarmed and self.driver.per_turn):
                prompt = self.first_turn.harness_text
                self.driver.output_schema = self.first_turn.output_schema
                stdin = None if self.prewarmed else self.driver.prompt_stdin(prompt)
                first = (self.driver.first_argv(prompt), stdin)
            await self.runner.run(first, report)
        except Exception as exc:
            if not started:
                raise  # the launch fails: nothing exists yet
            self._crash(exc)  # one session's bug ends that session, never the daemon
        finally:
            self.driver.close()
            if started:
                # Cancelled from outside (forced daemon stop): say so, never end silently.
                self.apply(ev.Aborted(FailureCode.STOPPED, "daemon stopped"))
                self.runner.detach()
                if self.on_end is not None:
                    self.on_end(self)
            self.done.set()

    def _crash(self, exc: BaseException) -> None:
        """An unexpected exception: end the session (``internal_error``), stop its
        processes at once, log the traceback; the daemon and other sessions go on."""
        log.error("session %s failed inside", self.id, exc_info=exc)
        self.runner.fail_waiters(InternalError("The session failed inside; see the daemon log."))
        while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]  # name the fault, not the nurseries around it
        message = f"internal error: {type(exc).__name__}: {exc}"[:500]
        try:
            self.apply(ev.Aborted(FailureCode.INTERNAL_ERROR, message))
        except Exception:  # even journaling fails: end the journal without its last word
            log.exception("session %s: could not journal its failure", self.id)
            self.runner.supervisor.kill()
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

    # --- requests from clients -----------------------------------------------------------

    async def send_input(self, data: str, body: dict[str, Any]) -> None:
        """``POST …/input``: raw bytes to a PTY/command, or a turn for a turn-based harness
        (now, or after the running one). Journals ``input`` once the harness has it."""
        how = ev.How.QUEUE if self.driver.has_turns else ev.How.RAW
        delivery = ev.Delivery(TurnInput.plain(data), how, body=body)
        await self._request(ev.InputArrived(delivery), delivery)

    async def start_turn(self, turn: TurnInput) -> None:
        """The next turn now (409 ``turn_active`` mid-turn), answering open harness
        questions first (eve's seed client, with its continuation token)."""
        delivery = ev.Delivery(turn, ev.How.TURN)
        await self._request(ev.InputArrived(delivery), delivery)

    async def send(self, turn: TurnInput) -> bool:
        """eve's send without a token: the turn starts now or after the running one
        (its ``queue``; its ``steer`` too: no harness here takes text into a running
        turn). True when it was queued."""
        delivery = ev.Delivery(turn, ev.How.QUEUE)
        await self._request(ev.InputArrived(delivery), delivery)
        return not delivery.started

    async def cancel(self, turn_id: str | None = None) -> bool:
        """Stop the running turn (``turn.cancelled``); the session goes on. False when
        there is no such turn."""
        return (await self._request(ev.CancelRequested(turn_id))).outcome

    async def clear(self) -> None:
        """The next turn starts a fresh conversation (``context.cleared``)."""
        delivery = ev.Delivery(TurnInput.plain("/clear"), ev.How.COMMAND)
        await self._request(ev.ClearRequested(delivery), delivery)

    async def compact(self) -> None:
        """Compact the harness's conversation (claude's stream: ``/compact``)."""
        delivery = ev.Delivery(TurnInput.plain("/compact"), ev.How.COMMAND)
        await self._request(ev.CompactRequested(delivery), delivery)

    @contextlib.contextmanager
    def attended(self) -> Iterator[None]:
        """A person follows the session for the block (a chat, the dashboard): the
        harness's questions go to them, and notifications stay quiet."""
        self.apply(ev.PersonAttached())
        try:
            yield
        finally:
            self.apply(ev.PersonLeft())

    @property
    def people(self) -> int:
        """People following the session now (:meth:`attended`)."""
        return self.state.people

    def questions(self) -> list[tuple[dict[str, Any], float]]:
        """The harness's open questions (``input.requested``) with when each was asked,
        oldest first; none once the session has ended."""
        if not self.live:
            return []
        asked = self.state.interaction.asked
        pending = self.state.interaction.pending
        found = [(request, asked.get(rid, 0.0)) for rid, request in pending.items()]
        return sorted(found, key=lambda pair: pair[1])

    def kill(self) -> None:
        """``POST …/kill``: journal ``kill``, stop the harness with the full escalation;
        a write still in progress is cancelled."""
        with self._boundary():
            self.apply(ev.KillRequested())

    async def stop(self) -> None:
        """Daemon shutdown: stop with the full escalation and wait until done."""
        self.apply(ev.ShutdownRequested())
        await self.done.wait()

    def resize(self, rows: int, cols: int) -> None:
        """Resize the session's terminal (PTY sessions); the harness gets SIGWINCH."""
        if not self.state.live:
            raise SessionNotLive("Session is not live.", details={"sessionId": self.id})
        if not self.driver.use_pty:
            raise NotATerminal(
                "This session has no terminal to resize.", details={"sessionId": self.id}
            )
        try:
            self.runner.supervisor.resize(rows, cols)
        except OSError:
            raise SessionNotLive("Session is not live.", details={"sessionId": self.id}) from None
