"""What clients do to a live session besides starting a turn: queue input behind the
running turn, resize its terminal, and eve's controls (cancel the running turn, clear
or compact the harness's conversation). A mixin of :class:`~coven_trio.sessions.Session`; what it
uses of the session is the :class:`_Live` protocol.
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

from ..errors import CovenError, InvalidRequest, NotATerminal, TurnActive
from ..harness import Driver
from ..vocabulary import Entry, EntryType, LaunchMode
from ._delivery import Courier, Delivery
from ._interaction import TurnInput
from ._state import Event, Phase, Recorded, SessionState, TurnState
from ._supervisor import Supervisor


class _Live(Protocol):
    id: str
    harness: str
    launch_mode: LaunchMode
    driver: Driver
    state: SessionState
    courier: Courier
    supervisor: Supervisor
    _cancelling: bool
    _ran: bool
    _commands: list[Entry | None]

    def handle(self, event: Event) -> None: ...
    def _boundary(self) -> contextlib.AbstractContextManager[None]: ...
    def _require_live(self) -> None: ...
    def _between_turns(self) -> None: ...
    async def _command(self, text: str, after: Entry | None) -> None: ...
    def _not_live(self) -> CovenError: ...
    async def _queue(self, turn: TurnInput, body: dict[str, Any] | None) -> None: ...
    async def _start_turn(self, turn: TurnInput, input_body: dict[str, Any] | None) -> None: ...


class Controls:
    async def cancel(self: _Live, turn_id: str | None = None) -> bool:
        """Stop the running turn (``turn.cancelled``); the session goes on. False when
        there is no such turn. Claude's stream gets its interrupt request; a per-turn
        process SIGINT (its exit ends the turn)."""
        running = self.state.turn is TurnState.ACTIVE and self.state.phase is Phase.TURN
        if not running or (turn_id is not None and turn_id != self.state.turn_id):
            return False
        if not self.driver.has_turns or self.courier.busy:
            return False  # a raw process is its only turn: kill it instead
        with self._boundary():
            line = self.driver.interrupt()
            self._cancelling = True
            if line is not None:
                with self.courier.writing():
                    await self.supervisor.write(line)
            else:
                self.supervisor.interrupt()
        return True

    async def clear(self: _Live) -> None:
        """The next turn starts a fresh conversation (``context.cleared``): claude's
        stream runs its ``/clear``; a per-turn harness's next process does not resume."""
        with self._boundary():
            self._between_turns()
            if not self.driver.per_turn:
                await self._command("/clear", None)
            self.driver.forget_conversation()
            self._ran = False
            self.handle(Recorded(EntryType.CONTEXT_CLEARED, {"sessionId": self.id}))

    async def compact(self: _Live) -> None:
        """Compact the harness's conversation (claude's stream: ``/compact``)."""
        with self._boundary():
            self._between_turns()
            if self.driver.per_turn or self.driver.turn_input("") is None:
                raise InvalidRequest(
                    f"harness `{self.harness}` cannot compact its conversation in "
                    f"{self.launch_mode} mode",
                    details={"sessionId": self.id, "harness": self.harness},
                )
            self.handle(Recorded(EntryType.COMPACTION_REQUESTED, {"sessionId": self.id}))
            done = (EntryType.COMPACTION_COMPLETED, {"sessionId": self.id})
            await self._command("/compact", done)

    def _between_turns(self: _Live) -> None:
        self._require_live()
        if not self.state.between_turns or self.courier.busy or self.courier.queued:
            raise TurnActive("A turn is running.", details={"sessionId": self.id})

    async def _command(self: _Live, text: str, after: Entry | None) -> None:
        """Send a harness command as a turn of its own; its output is not journaled,
        ``after`` is once it ends."""
        line = self.driver.turn_input(text)
        if line is None:
            return
        self._commands.append(after)
        with self.courier.writing():
            await self.supervisor.write(line)

    async def send(self: _Live, turn: TurnInput) -> bool:
        """eve's send without a continuation token: the turn starts now or, while one
        runs, after it (today's client's ``queue``; its ``steer`` too: no harness here
        takes text into a running turn). True when it was queued."""
        with self._boundary():
            self._require_live()
            if self.state.between_turns and not self.courier.busy:
                await self._start_turn(turn, None)
                return False
            if turn.input_responses:
                raise TurnActive("A turn is running.", details={"sessionId": self.id})
            await self._queue(turn, None)
            return True

    async def _queue(self: _Live, turn: TurnInput, body: dict[str, Any] | None) -> None:
        """Input mid-turn is accepted, as Coven does: it starts the next turn (a stream
        harness gets it on stdin now, and answers it after the running turn)."""
        self.courier.check_queue(self.id)
        line = None if self.driver.per_turn else self.driver.turn_input(turn.harness_text)
        if line is not None:
            with self.courier.writing():
                await self.supervisor.write(line)
        self.courier.queued.append(Delivery(turn, [], body))

    def resize(self: _Live, rows: int, cols: int) -> None:
        """Resize the session's terminal (PTY sessions); the harness gets SIGWINCH."""
        self._require_live()
        if not self.driver.use_pty:
            raise NotATerminal(
                "This session has no terminal to resize.", details={"sessionId": self.id}
            )
        try:
            self.supervisor.resize(rows, cols)
        except OSError:
            raise self._not_live() from None
