"""``coven-trio attach`` for a terminal session (an interactive CLI on a PTY, or a raw
``command``): the session's screen in this terminal, this terminal's keys to it.

The recent output is replayed, then the terminal goes raw: every keystroke is sent as
input, the window size is sent at once and on every ``SIGWINCH`` (so a full-screen CLI
redraws), and the session's output is written as it comes. ``Ctrl-]`` (as in telnet)
detaches and leaves the session running; the session's end ends the attach.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import shutil
import signal
import sys
import termios
import tty
from collections.abc import Iterator

import trio

from ..client import Client
from ._lines import read_some

#: The detach key: Ctrl-] (0x1d), telnet's escape.
DETACH = b"\x1d"
#: How many of the latest journal entries are replayed on attach (a full-screen CLI
#: redraws on the resize that follows, so its recent output is enough).
REPLAY_ENTRIES = 400


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """The terminal in raw mode for the block (restored however it ends)."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def _output(client: Client, session_id: str, start: int, done: trio.Event) -> None:
    async for entry in client.tail(session_id, start):
        if entry.get("type") in ("output", "stderr"):
            data = entry.get("data") or {}
            text = str(data.get("data", data.get("text", "")))
            await trio.to_thread.run_sync(_write, text.encode())
    done.set()


def _write(data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(sys.stdout.fileno(), view) :]


async def _keys(client: Client, session_id: str, detached: trio.Event) -> None:
    """Every keystroke to the session. stdin stays blocking (``read_some``): it is the
    same open file as the stdout the session's output is written to."""
    # A character pasted across two reads must not become two replacement marks.
    decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
    fd = sys.stdin.fileno()
    while True:
        data = await read_some(fd)
        if not data:
            detached.set()
            return
        if DETACH in data:
            before = decode(data.split(DETACH, 1)[0], final=True)
            if before:
                await client.send_input(session_id, before)
            detached.set()
            return
        if text := decode(data):
            await client.send_input(session_id, text)


async def _window(client: Client, session_id: str) -> None:
    """The window size now and after every change."""
    with trio.open_signal_receiver(signal.SIGWINCH) as changes:
        while True:
            try:  # the terminal's own size (COLUMNS/LINES are a snapshot)
                size = os.get_terminal_size(sys.stdin.fileno())
            except OSError:
                size = shutil.get_terminal_size()
            with contextlib.suppress(Exception):  # a raw session has no window
                await client.resize(session_id, size.lines, size.columns)
            await changes.__anext__()


async def attach_terminal(client: Client, session_id: str) -> str:
    """Attach until detached or the session ends; returns which (``detached``/``ended``)."""
    record = await client.session(session_id)
    start = max(0, int(record.get("event_count", 0)) - REPLAY_ENTRIES)
    ended, detached = trio.Event(), trio.Event()
    with raw_terminal(sys.stdin.fileno()):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_output, client, session_id, start, ended)
            nursery.start_soon(_keys, client, session_id, detached)
            nursery.start_soon(_window, client, session_id)
            async with trio.open_nursery() as either:

                async def wait(event: trio.Event) -> None:
                    await event.wait()
                    either.cancel_scope.cancel()

                either.start_soon(wait, ended)
                either.start_soon(wait, detached)
            nursery.cancel_scope.cancel()
    return "detached" if detached.is_set() else "ended"
