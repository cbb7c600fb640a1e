"""Streaming responses (chunked, cancelled when the client leaves) and connection
upgrades (the request head replayed for a library that parses it itself)."""

from __future__ import annotations

import logging
from http import HTTPStatus

import attrs
import h11
import trio

from ..config import Config
from ._router import Request, StreamResponse

log = logging.getLogger("coven_trio.http")

#: One read from a socket: trio's own default, the Linux pipe and socket buffer scale.
MAX_RECV = 65536


@attrs.define
class _StreamState:
    disconnected: bool = False


async def send_stream(
    stream: trio.abc.Stream,
    conn: h11.Connection,
    request: Request,
    response: StreamResponse,
    close: bool,
    config: Config,
) -> bool:
    """Send a chunked response; returns whether the connection may be kept alive."""
    headers = list(response.headers)
    if close:
        headers.append(("connection", "close"))
    reason = HTTPStatus(response.status).phrase.encode()
    head = h11.Response(status_code=response.status, headers=headers, reason=reason)
    await stream.send_all(conn.send(head))
    if request.method == "HEAD":
        await stream.send_all(conn.send(h11.EndOfMessage()))
        return not close
    state = _StreamState()

    async def send(chunk: bytes) -> None:
        # A reader that takes nothing for send_timeout is gone in all but name: drop it,
        # and what it pinned (the batch, the connection) goes with it.
        with trio.fail_after(config.send_timeout):
            await stream.send_all(conn.send(h11.Data(data=chunk)))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(_watch_disconnect, stream, conn, nursery.cancel_scope, state, config)
        try:
            await response.write_body(send)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            state.disconnected = True
        except trio.TooSlowError:
            log.info("stalled stream reader dropped: %s %s", request.method, request.path)
            state.disconnected = True
        except Exception:
            log.exception("stream writer failed: %s %s", request.method, request.path)
            state.disconnected = True  # mid-body: the only honest signal left is EOF
        nursery.cancel_scope.cancel()
    if state.disconnected:
        return False
    await stream.send_all(conn.send(h11.EndOfMessage()))
    return not close


async def _watch_disconnect(
    stream: trio.abc.Stream,
    conn: h11.Connection,
    scope: trio.CancelScope,
    state: _StreamState,
    config: Config,
) -> None:
    """Read beside a streaming writer, so EOF cancels it even while it waits.

    Bytes that arrive (a pipelined next request) go into h11's buffer for the next
    cycle; past the head limit we stop reading and let the kernel hold the rest.
    """
    buffered = 0
    while buffered <= config.max_head_bytes:
        try:
            data = await stream.receive_some(MAX_RECV)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        if not data:
            state.disconnected = True
            scope.cancel()
            return
        buffered += len(data)
        conn.receive_data(bytes(data))
    await trio.sleep_forever()


def replayed(stream: trio.abc.Stream, request: Request, conn: h11.Connection) -> trio.abc.Stream:
    """The connection handed over to an upgrade (WebSocket), with the request head
    replayed in front, since trio-websocket parses the upgrade request itself."""
    return _Replayed(_replay_head(request, conn), stream)


def _replay_head(request: Request, conn: h11.Connection) -> bytes:
    """The request head, re-serialised (canonical, not byte-identical), followed by
    whatever the client already sent after it."""
    client = h11.Connection(h11.CLIENT)
    head = client.send(
        h11.Request(
            method=request.method, target=request.target, headers=list(request.headers.items())
        )
    )
    return head + bytes(conn.trailing_data[0])


class _Replayed(trio.abc.Stream):
    """A stream that returns ``prefix`` before reading from ``stream``."""

    def __init__(self, prefix: bytes, stream: trio.abc.Stream) -> None:
        self._prefix = prefix
        self._stream = stream

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._prefix:
            size = len(self._prefix) if max_bytes is None else max_bytes
            chunk, self._prefix = self._prefix[:size], self._prefix[size:]
            await trio.lowlevel.checkpoint()
            return chunk
        return bytes(await self._stream.receive_some(max_bytes))

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self._stream.aclose()
