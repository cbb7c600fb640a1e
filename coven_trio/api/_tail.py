"""Replay-then-tail of a journal, shared by every streaming view (NDJSON, WebSocket)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio

from .. import records
from ..http import Request
from ..journal import Journal
from ..sessions import Historical, Session

#: A view's reader: the bytes of entries from an index (a batch), and the next index.
Reader = Callable[[Journal, int], tuple[bytes, int]]
Send = Callable[[bytes], Awaitable[None]]

#: A client that is a person following the session (the chat, the dashboard) says so
#: with this header on its stream request: the harness's questions then go to it.
ATTACH_HEADER = "coven-attach"


def attended(
    request: Request, session: Session | Historical, produce: Callable[[Send], Awaitable[None]]
) -> Callable[[Send], Awaitable[None]]:
    """``produce`` run with the session attended by a person while it streams, if the
    request says a person follows it (``coven-attach: person``)."""
    if request.headers.get(ATTACH_HEADER) != "person" or not isinstance(session, Session):
        return produce

    async def with_person(send: Send) -> None:
        with session.attended():
            await produce(send)

    return with_person


#: One write carries at most about this much: big enough to amortise a send (~14 µs),
#: small enough that a replay of a huge journal streams instead of copying it all.
BATCH_BYTES = 1 << 20


def eve_lines(journal: Journal, index: int) -> tuple[bytes, int]:
    return journal.read_lines(index, BATCH_BYTES)


def event_records(journal: Journal, index: int) -> tuple[bytes, int]:
    """Coven EventRecords as NDJSON lines."""
    return records.read(journal, index, BATCH_BYTES)


async def tail(
    journal: Journal,
    start: int,
    send: Send,
    read: Reader,
    *,
    heartbeat: float | None = None,
    idle: bytes = b"\n",
    stop: int | None = None,
) -> None:
    """Send entries from ``start`` (replay), then each new batch as it lands, until the
    journal is closed and everything was sent (or, with ``stop``, up to that index: a
    bounded replay). A reader that is behind gets all available entries in one send; it
    never makes the journal buffer for it. With ``heartbeat``, ``idle`` is sent after
    that many quiet seconds."""
    index = start
    while True:
        if stop is not None and index >= stop:
            return
        if index < len(journal):
            chunk, index = read(journal, index)
            await send(chunk)
            continue
        if journal.closed:
            return
        if heartbeat is None:
            await journal.wait_past(index)
            continue
        with trio.move_on_after(heartbeat) as quiet:
            await journal.wait_past(index)
        if quiet.cancelled_caught:
            await send(idle)
