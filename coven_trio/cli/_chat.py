"""``coven-trio attach`` / ``run`` for a turn-based session (claude stream, a per-turn CLI):
a chat in the terminal.

The journal is followed from the start: the assistant's words render as they stream
(markdown, with ``rich``), tool calls and their failures as short lines, questions
(tool approvals, the agent's own questions) as numbered choices answered inline. When
the session waits, the next message is read at a ``>`` prompt. ``Ctrl-C`` during a
turn cancels that turn (the session goes on); at the prompt, ``Ctrl-C`` or ``Ctrl-D``
leaves the chat and the session keeps running.
"""

from __future__ import annotations

import enum
import signal
from typing import Any

import trio

from ..client import Client, ClientError
from ._lines import Lines
from ._render import Kind, show

#: What the follower tells the chat loop.
READY, ENDED = "ready", "ended"


class Gone(enum.Enum):
    #: What a prompt gives when what it asked no longer waits.
    INTERRUPTED = "interrupted"


INTERRUPTED = Gone.INTERRUPTED


class Chat:
    """One chat: a follower task renders the journal; the loop talks to the person."""

    def __init__(self, client: Client, session_id: str, console: Any = None) -> None:
        from rich.console import Console  # only the commands that draw load rich

        self.client = client
        self.session_id = session_id
        self.console = console or Console(highlight=False)
        self.text = ""
        self.live: Any = None
        self.questions: list[dict[str, Any]] = []
        self.turn_running = False
        self.sent: str | None = None
        self.send_state, self.states = trio.open_memory_channel[str](16)
        self.lines = Lines()
        #: While the person is asked something: its request id ("" at the ``>`` prompt),
        #: and the scope that gives the asking up.
        self.asking: str | None = None
        self.reading: trio.CancelScope | None = None

    # --- rendering -----------------------------------------------------------------------

    def _stream(self, delta: str) -> None:
        from rich.live import Live
        from rich.markdown import Markdown

        self.text += delta
        if self.live is None:
            self.live = Live(console=self.console, auto_refresh=False, transient=False)
            self.live.start()
        self.live.update(Markdown(self.text), refresh=True)

    def _end_message(self, content: str | None = None) -> None:
        from rich.markdown import Markdown

        if self.live is not None:
            if content:
                self.live.update(Markdown(content), refresh=True)
            self.live.stop()
        elif content:
            self.console.print(Markdown(content))
        self.live, self.text = None, ""

    def show(self, entry: dict[str, Any]) -> str | None:
        """Render one entry; READY or ENDED when the person's turn comes (or never)."""
        shown = show(entry)
        if shown is None:
            return None
        kind, text, data = shown.kind, shown.text, shown.data
        if kind is Kind.DELTA:
            self._stream(text)
        elif kind is Kind.MESSAGE:
            self._end_message(None if self.live else text)
        elif kind is Kind.SAID:
            self.turn_running = True
            if text != self.sent:  # replayed, or sent by someone else
                self.console.print(f"> {text}", style="bold", markup=False)
            self.sent = None
        elif kind is Kind.STARTED:
            self.turn_running = True
        elif kind is Kind.QUESTION:
            self.questions.extend(r for r in data.get("requests", []) if isinstance(r, dict))
            if self.asking == "":  # at the `>` prompt: the question comes first
                self._interrupt()
        elif kind is Kind.RESOLVED:
            settled = {r.get("requestId") for r in data.get("resolutions", [])}
            self.questions = [q for q in self.questions if q.get("requestId") not in settled]
            if self.asking in settled:  # answered elsewhere (the inbox, the dashboard)
                self._interrupt()
        elif kind is Kind.TOOL:
            self._end_message()
            self.console.print(text, style="dim cyan", markup=False)
        elif kind in (Kind.FAILED, Kind.CANCELLED):
            self._end_message()
            line, style = (
                (f"error: {text}", "red") if kind is Kind.FAILED else (f"({text})", "yellow")
            )
            self.console.print(line, style=style, markup=False)
        elif kind is Kind.RAW:
            self.console.out(text, end="", highlight=False)
        elif kind is Kind.WAITING:
            self._end_message()
            self.turn_running = False
            return READY
        elif kind in (Kind.COMPLETED, Kind.ENDED):
            self._end_message()
            self.turn_running = False
            if kind is Kind.ENDED:
                self.console.print(f"session ended: {data.get('message')}", style="red")
            return ENDED
        return None

    async def _follow(self) -> None:
        # a person follows: the harness's questions come here (Ask.PERSON)
        async for entry in self.client.tail(self.session_id, person=True):
            state = self.show(entry)
            if state is not None:
                await self.send_state.send(state)
        await self.send_state.send(ENDED)

    async def _ask(self, prompt: str, request_id: str = "") -> str | Gone | None:
        """The person's next line (None: they left), or INTERRUPTED if what was asked
        no longer waits (answered elsewhere, or a question came first)."""
        self.console.file.write(prompt)
        self.console.file.flush()
        self.asking = request_id
        try:
            with trio.CancelScope() as self.reading:
                return await self.lines.read()
        finally:
            self.asking = self.reading = None
        self.console.file.write("\n")
        return INTERRUPTED

    def _interrupt(self) -> None:
        if self.reading is not None:
            self.reading.cancel()

    async def _answer(self) -> bool:
        """Answer the open questions one by one; False if the person left."""
        while self.questions:
            request = self.questions[0]
            request_id = str(request.get("requestId"))
            options = request.get("options") or []
            self.console.print(f"[bold yellow]? {request.get('prompt', '')}[/bold yellow]")
            for number, option in enumerate(options, 1):
                self.console.print(f"  {number}. {option.get('label') or option.get('id')}")
            reply = await self._ask("choose > ", request_id)
            if reply is INTERRUPTED:
                self.console.print("(answered elsewhere)", style="dim")
                continue
            if reply is None:
                return False
            if request in self.questions:
                self.questions.remove(request)
            choice = reply.strip()
            if choice.isdigit() and 1 <= int(choice) <= len(options):
                picked = options[int(choice) - 1]
                choice = str(picked.get("id") or picked.get("label"))
            try:
                await self.client.respond(self.session_id, request_id, choice)
            except ClientError as exc:  # answered elsewhere meanwhile
                self.console.print(f"({exc})", style="yellow", markup=False)
        return True

    async def _interrupts(self, done: trio.CancelScope) -> None:
        with trio.open_signal_receiver(signal.SIGINT) as signals:
            async for _ in signals:
                if self.turn_running:
                    await self.client.cancel_turn(self.session_id)
                else:
                    done.cancel()

    async def run(self) -> str:
        """Chat until the person leaves (``detached``) or the session ends (``ended``)."""
        outcome = "detached"
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._follow)
            nursery.start_soon(self._interrupts, nursery.cancel_scope)
            async for first in self.states:
                state = first
                while True:  # a replay queues many: only the latest counts
                    try:
                        state = self.states.receive_nowait()
                    except trio.WouldBlock:
                        break
                    if state == ENDED:
                        break
                if state == ENDED:
                    outcome = "ended"
                    break
                if self.questions:
                    if not await self._answer():
                        break
                    continue
                line = await self._ask("> ")
                if line is INTERRUPTED:
                    continue  # a question came first
                if line is None:
                    break
                if line.strip():
                    self.sent = line
                    await self.client.send_input(self.session_id, line)
            nursery.cancel_scope.cancel()
        return outcome
