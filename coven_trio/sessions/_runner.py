"""The runtime side of a session: it performs the effects the state asks for and reports
back what happened. It decides nothing.

Writes go to the live process one delivery at a time per write (the process's stdin lock
keeps them in order), each in a cancel scope a kill cancels; the harness's output is held
while a turn's delivery is written and journaled, so what the harness answers lands after
it. Processes are started only by :meth:`Runner.run`, the session's task: the first one,
then — for a per-turn harness — one per :class:`~._events.Spawn` the state asks for, until
the session has ended. A client that sent input waits for its delivery to be settled.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import trio

from .. import schema
from ..config import Config
from ..errors import CovenError, InvalidInputResponses, SessionNotLive
from ..harness import Driver
from ..vocabulary import Entry
from . import _events as ev
from ._supervisor import ProcessWatcher, Supervisor

#: The session's journal writer: applies an event, performs what it can at once, and
#: returns the effects that must be awaited.
Apply = Callable[[ev.Event], list[ev.Effect]]


def _ended(event: ev.Event) -> list[ev.Effect]:
    raise AssertionError(f"{event!r} after the session ended")


class _Waiter:
    """A client waiting for its delivery to be settled."""

    def __init__(self) -> None:
        self.done = trio.Event()
        self.error: CovenError | None = None

    def settle(self, error: CovenError | None) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()

    async def wait(self) -> None:
        await self.done.wait()
        if self.error is not None:
            raise self.error


class Runner:
    """Performs one session's effects on its processes and its waiting clients."""

    def __init__(
        self,
        session_id: str,
        driver: Driver,
        cwd: str,
        config: Config,
        apply: Apply,
        watcher: ProcessWatcher | None = None,
    ) -> None:
        self.session_id = session_id
        self.driver = driver
        self._apply = apply
        self.supervisor = Supervisor(session_id, driver, cwd, config, self._on_output, watcher)
        self._writes: set[trio.CancelScope] = set()
        self._waiters: dict[int, _Waiter] = {}
        self._spawn: ev.Spawn | None = None
        self._wake = trio.Event()
        self._ended = False
        #: The last process's exit code (None after a signal).
        self.exit_code: int | None = None

    # --- clients -------------------------------------------------------------------------

    def expect(self, delivery: ev.Delivery) -> _Waiter:
        """Register a client that will wait for ``delivery`` (before it is applied)."""
        waiter = self._waiters[delivery.id] = _Waiter()
        return waiter

    def forget(self, delivery: ev.Delivery) -> None:
        """The request failed before its delivery was settled: nobody waits for it."""
        self._waiters.pop(delivery.id, None)

    def detach(self) -> None:
        """The session is over and its processes reaped: drop the callbacks that tie the
        runner, the supervisor and the session into a cycle, so an ended session's
        memory (its journal) goes as soon as nothing else holds it, not at the next
        full garbage collection."""
        self._apply = _ended
        self.supervisor.detach()

    def fail_waiters(self, error: CovenError) -> None:
        """The session failed inside: nobody waits for a dead turn."""
        waiters, self._waiters = self._waiters, {}
        for waiter in waiters.values():
            waiter.settle(error)

    @property
    def writing(self) -> bool:
        """A write to the harness is in progress."""
        return bool(self._writes)

    # --- effects -------------------------------------------------------------------------

    def now(self, effect: ev.Effect) -> bool:
        """Perform ``effect`` if it takes no waiting; False if it must be awaited."""
        if isinstance(effect, ev.Settle):
            waiter = self._waiters.pop(effect.delivery.id, None)
            if waiter is not None:
                waiter.settle(effect.error)
        elif isinstance(effect, ev.BeginTurn):
            self.driver.begin_turn(effect.turn_id)
        elif isinstance(effect, ev.Spawn):
            self._spawn = effect
            self._wake.set()
        elif isinstance(effect, ev.Stop | ev.Kill):
            if isinstance(effect, ev.Kill):
                self.supervisor.kill()
            else:
                self.supervisor.request_stop()
            for scope in self._writes:  # a write in progress is cancelled: 409 for it
                scope.cancel()
            self._wake.set()
        elif isinstance(effect, ev.Ended):
            self._ended = True
            self._wake.set()
            self.fail_waiters(self._not_live())
        elif isinstance(effect, ev.ForgetConversation):
            self.driver.forget_conversation()
        else:
            return False
        return True

    async def perform(self, effect: ev.Effect) -> None:
        """Perform an effect that takes waiting (a write, a check)."""
        if isinstance(effect, ev.Write):
            with self.supervisor.output_held():
                await self._deliver(effect.delivery)
        elif isinstance(effect, ev.Queue):
            await self._deliver(effect.delivery)
        elif isinstance(effect, ev.Answer):  # best effort: a harness gone has no question
            lines = [
                self.driver.control_response(a.request, a.allow, a.choice) for a in effect.answers
            ]
            with contextlib.suppress(CovenError):
                await self._write([line for line in lines if line is not None])
        elif isinstance(effect, ev.Interrupt):
            line = self.driver.interrupt()
            if line is None:
                self.supervisor.interrupt()  # a per-turn CLI: SIGINT ends its turn
            else:
                await self._write([line])
        elif isinstance(effect, ev.Check):  # off the event loop: a big answer must not hold it
            errors = await schema.validate_off_loop(effect.value, effect.schema)
            await self.feed(ev.Checked(errors, effect.value))
        else:  # pragma: no cover - every effect is one or the other
            raise AssertionError(f"unknown effect {effect!r}")

    async def feed(self, event: ev.Event) -> None:
        """Apply ``event`` and perform what it asks for."""
        for effect in self._apply(event):
            await self.perform(effect)

    def feed_now(self, event: ev.Event) -> None:
        """Apply an event whose effects take no waiting (a process started)."""
        later = self._apply(event)
        assert not later, later

    async def _deliver(self, d: ev.Delivery) -> None:
        """Write ``d`` to the harness, then say whether it got there."""
        try:
            lines = self._lines(d)
            await self._write(lines)
        except CovenError as exc:
            await self.feed(ev.DeliveryFailed(d, exc))
        else:
            await self.feed(ev.Delivered(d))

    def _lines(self, d: ev.Delivery) -> list[bytes]:
        """What the harness reads for ``d``: raw bytes, or the answers to its questions
        then the turn's line."""
        if d.how is ev.How.RAW or not self.driver.has_turns:
            return [d.turn.harness_text.encode()]
        lines = []
        for answer in d.answers:
            line = self.driver.control_response(answer.request, answer.allow, answer.choice)
            if line is None:
                raise InvalidInputResponses("This harness does not take input responses.")
            lines.append(line)
        if d.turn.harness_text and (line := self.driver.turn_input(d.turn.harness_text)):
            lines.append(line)
        return lines

    async def _write(self, lines: list[bytes]) -> None:
        """Write to the live process; a kill cancels it (``session_not_live``)."""
        with trio.CancelScope() as scope:
            self._writes.add(scope)
            try:
                for line in lines:
                    await self.supervisor.write(line)
            finally:
                self._writes.discard(scope)
        if scope.cancelled_caught:
            raise self._not_live()

    def _not_live(self) -> SessionNotLive:
        return SessionNotLive("Session is not live.", details={"sessionId": self.session_id})

    # --- the process side ----------------------------------------------------------------

    async def _on_output(self, entries: list[Entry]) -> None:
        """The supervisor's sink: translated output, in order."""
        await self.feed(ev.Output(entries))

    async def run(
        self, first: tuple[list[str], bytes | None] | None, started: Callable[[], None]
    ) -> None:
        """The session's processes: the first (``argv``, ``stdin``; None for a per-turn
        session prewarmed without one), then one per spawn until the session ended.
        ``started()`` is called once the first runs with its prompt; a spawn or prompt
        failure before that raises :class:`~coven_trio.errors.LaunchFailed`."""

        def first_started() -> None:
            started()
            self.feed_now(ev.ProcessStarted())

        if first is None:
            started()
        else:
            code = await self.supervisor.run(*first, first_started)
            await self._exited(code)
        while not self._ended:
            if self._spawn is None:
                self._wake = trio.Event()
                await self._wake.wait()
                continue
            spawn, self._spawn = self._spawn, None
            await self._turn(spawn)

    async def _turn(self, spawn: ev.Spawn) -> None:
        """One turn of a per-turn harness: its own process."""
        d, prompt = spawn.delivery, spawn.delivery.turn.harness_text
        self.driver.output_schema = d.turn.output_schema
        argv = (self.driver.next_argv if spawn.resume else self.driver.first_argv)(prompt)
        try:
            code = await self.supervisor.run(
                argv, self.driver.prompt_stdin(prompt), lambda: self.feed_now(ev.ProcessStarted())
            )
        except CovenError as exc:  # the process could not start: the session is unchanged
            await self.feed(ev.DeliveryFailed(d, exc))
            return
        await self._exited(code)

    async def _exited(self, code: int) -> None:
        self.exit_code = code if code >= 0 else None
        await self.feed(ev.ProcessExited(code, self.driver.conversation_id is not None))
