"""The listener and the per-connection h11 loop.

Resource handling: every accepted stream is owned by one connection task in the
server's nursery and closed in its ``finally``. A streaming response runs a reader beside
the writer, so a vanished client cancels its writer at once even when nothing is written.

Error handling: nothing a client sends can end a connection task with an exception. h11
protocol errors, limits and timeouts are answered with the JSON envelope while h11's
state allows a response; handler exceptions become a 500 ``internal_error`` envelope and
one log line with the traceback.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import os
from http import HTTPStatus
from typing import Any

import attrs
import h11
import trio

from .._home import peer_uid
from ..config import Config
from ..errors import (
    BadHttp,
    CapacityExhausted,
    CovenError,
    HeadersTooLarge,
    InternalError,
    PayloadTooLarge,
    PeerRefused,
    RequestTimeout,
    envelope,
)
from ._router import JSON_TYPE, Request, Response, Router, StreamResponse, Upgrade

log = logging.getLogger("coven_trio.http")

#: One read from a socket: trio's own default, the Linux pipe and socket buffer scale.
MAX_RECV = 65536
#: accept() errnos that mean "out of fds or memory": wait and retry (as trio's
#: serve_listeners does) instead of dying.
ACCEPT_CAPACITY_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
ACCEPT_RETRY_SLEEP = 0.1

_REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}


class _Closed(Exception):
    """The peer went away, or an idle connection should end quietly."""


class _BadHead(Exception):
    """A parsed head we refuse; a HEAD request's error answer must carry no body."""

    def __init__(self, error: CovenError, *, head_only: bool) -> None:
        super().__init__(error.message)
        self.error = error
        self.head_only = head_only


@attrs.define
class _StreamState:
    disconnected: bool = False


def _error_response(exc: CovenError) -> Response:
    return Response(status=exc.status, body=envelope(exc), headers=list(exc.headers))


@attrs.define(eq=False)
class HttpServer:
    """Serves ``router`` on a bound Unix socket until cancelled or :meth:`stop_accepting`."""

    config: Config
    router: Router
    _ids: itertools.count[int] = attrs.field(factory=itertools.count)
    _accept_scope: trio.CancelScope | None = None
    _idle_scopes: set[trio.CancelScope] = attrs.field(factory=set)
    _connections: int = 0
    _drained: trio.Event | None = None
    closing: bool = False

    async def serve(
        self,
        sock: trio.socket.SocketType,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Accept connections on ``sock`` (already bound and listening) until cancelled.

        Connection tasks live in this function's nursery, so they never outlive it.
        """
        listener = trio.SocketListener(sock)
        async with trio.open_nursery() as nursery:
            with trio.CancelScope() as self._accept_scope:
                task_status.started()
                while True:
                    try:
                        stream = await listener.accept()
                    except OSError as exc:
                        if exc.errno not in ACCEPT_CAPACITY_ERRNOS:
                            raise
                        log.error("accept failed (%s); retrying", errno.errorcode[exc.errno])
                        await trio.sleep(ACCEPT_RETRY_SLEEP)
                        continue
                    nursery.start_soon(self._run_connection, stream)
            await listener.aclose()

    def stop_accepting(self) -> None:
        """Stop taking connections and end idle keep-alive ones; in-flight ones finish."""
        self.closing = True
        if self._accept_scope is not None:
            self._accept_scope.cancel()
        for scope in list(self._idle_scopes):
            scope.cancel()

    @property
    def connections(self) -> int:
        return self._connections

    async def wait_idle(self) -> None:
        """Return once no connection is open (used by graceful shutdown)."""
        while self._connections:
            self._drained = trio.Event()
            await self._drained.wait()

    async def _run_connection(self, stream: trio.SocketStream) -> None:
        conn_id = next(self._ids)
        self._connections += 1
        try:
            if self.config.check_peer_uid:
                uid = peer_uid(stream.socket)
                if uid is not None and uid != os.geteuid():
                    log.warning("refusing connection %d from uid %d", conn_id, uid)
                    await self._send_raw_error(stream, PeerRefused("peer uid is not ours"))
                    return
            if self._connections > self.config.max_connections:
                exc = CapacityExhausted("Too many connections.", headers=[("retry-after", "1")])
                await self._send_raw_error(stream, exc)
                return
            await self._serve_http(stream, conn_id)
        except (trio.BrokenResourceError, trio.ClosedResourceError, _Closed):
            pass
        except Exception:
            log.exception("connection %d failed", conn_id)
        finally:
            self._connections -= 1
            await trio.aclose_forcefully(stream)
            if self._connections == 0 and self._drained is not None:
                self._drained.set()

    async def _send_raw_error(self, stream: trio.SocketStream, exc: CovenError) -> None:
        """Answer without parsing a byte (peer refusal, capacity), then close."""
        conn = h11.Connection(h11.SERVER)
        await self._send_response(stream, conn, _error_response(exc), head_only=False, close=True)
        await self._linger_close(stream)

    async def _serve_http(self, stream: trio.SocketStream, conn_id: int) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.config.max_head_bytes)
        first = True
        while True:
            try:
                request = await self._receive_head(stream, conn, first)
            except (CovenError, _BadHead) as exc:
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    bad = exc if isinstance(exc, _BadHead) else _BadHead(exc, head_only=False)
                    error = _error_response(bad.error)
                    await self._send_response(
                        stream, conn, error, head_only=bad.head_only, close=True
                    )
                await self._linger_close(stream)
                return
            first = False
            response, must_close = await self._respond(stream, conn, request)
            close = must_close or self.closing
            if isinstance(response, Upgrade):
                await response.run(_Replayed(_replay_head(request, conn), stream))
                return
            if isinstance(response, StreamResponse):
                keep = await self._send_stream(stream, conn, request, response, close)
            else:
                await self._send_response(
                    stream, conn, response, head_only=request.method == "HEAD", close=close
                )
                keep = not close
            if not keep or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                await self._linger_close(stream)
                return
            conn.start_next_cycle()

    async def _receive(self, stream: trio.SocketStream, conn: h11.Connection) -> None:
        try:
            data = await stream.receive_some(MAX_RECV)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        conn.receive_data(data)

    async def _next_event(self, stream: trio.SocketStream, conn: h11.Connection) -> h11.Event:
        while True:
            event = self._poll(conn)
            if event is not h11.NEED_DATA:
                result: h11.Event = event
                return result
            await self._receive(stream, conn)

    def _poll(self, conn: h11.Connection) -> Any:
        """The next event from what h11 already holds, or ``h11.NEED_DATA``.

        Most requests arrive whole in one read: polling first lets the hot path skip
        the timeout scopes that only a waiting read needs.
        """
        try:
            return conn.next_event()
        except h11.RemoteProtocolError as exc:
            if exc.error_status_hint == 431:
                raise HeadersTooLarge(
                    f"Request head exceeds the {self.config.max_head_bytes}-byte limit."
                ) from None
            raise BadHttp(f"Malformed HTTP request: {exc}") from None

    async def _receive_head(
        self, stream: trio.SocketStream, conn: h11.Connection, first: bool
    ) -> Request:
        """Wait for the next request head.

        A connection's first request must arrive within ``head_timeout`` of accept. Later
        ones may idle for ``idle_timeout`` (then we close quietly, as nginx does: a 408 sent
        to an idle client could be read as the answer to its next request); once a byte of
        the head arrives, the rest must follow within ``head_timeout``.
        """
        cfg = self.config
        if not first and not conn.trailing_data[0]:
            with trio.CancelScope(deadline=trio.current_time() + cfg.idle_timeout) as idle:
                self._idle_scopes.add(idle)
                try:
                    if self.closing:
                        idle.cancel()
                    await self._receive(stream, conn)
                finally:
                    self._idle_scopes.discard(idle)
            if idle.cancelled_caught:
                raise _Closed
        event = self._poll(conn)
        if event is h11.NEED_DATA:
            with trio.move_on_after(cfg.head_timeout) as head:
                event = await self._next_event(stream, conn)
            if head.cancelled_caught:
                raise RequestTimeout(f"Request head not received within {cfg.head_timeout:g} s.")
        if isinstance(event, h11.ConnectionClosed):
            raise _Closed
        if not isinstance(event, h11.Request):  # pragma: no cover - h11 guarantees it
            raise BadHttp("Expected a request.")
        try:
            return self._check_head(event)
        except CovenError as exc:
            raise _BadHead(exc, head_only=event.method == b"HEAD") from None

    def _check_head(self, event: h11.Request) -> Request:
        """What h11 accepts but we do not: other HTTP versions, an oversized head that
        arrived whole, a non-ASCII target."""
        if event.http_version not in (b"1.0", b"1.1"):
            raise BadHttp(f"Unsupported HTTP version {event.http_version.decode()!r}.")
        # h11 only bounds a head still incomplete in its buffer; one that arrived whole
        # can be larger, so measure what it parsed.
        limit = self.config.max_head_bytes
        head_size = len(event.method) + len(event.target) + 12
        head_size += sum(len(k) + len(v) + 4 for k, v in event.headers)
        if head_size > limit:
            raise HeadersTooLarge(f"Request head exceeds the {limit}-byte limit.")
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in event.headers}
        try:
            target = event.target.decode("ascii")
        except UnicodeDecodeError:
            raise BadHttp("Request target is not ASCII.") from None
        return Request.from_head(event.method.decode("ascii"), target, headers)

    async def _read_body(
        self, stream: trio.SocketStream, conn: h11.Connection, request: Request
    ) -> None:
        cfg = self.config
        length = request.headers.get("content-length")
        if length is not None and int(length) > cfg.max_body_bytes:
            raise PayloadTooLarge(f"Request body exceeds {cfg.max_body_bytes}-byte limit.")
        if conn.they_are_waiting_for_100_continue:
            await stream.send_all(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
        event = self._poll(conn)
        if isinstance(event, h11.EndOfMessage):
            return  # no body: the hot path needs no timeout scope
        chunks: list[bytes] = []
        size = 0
        with trio.move_on_after(cfg.body_timeout) as scope:
            while True:
                if event is h11.NEED_DATA:
                    event = await self._next_event(stream, conn)
                if isinstance(event, h11.Data):
                    size += len(event.data)
                    if size > cfg.max_body_bytes:
                        raise PayloadTooLarge(
                            f"Request body exceeds {cfg.max_body_bytes}-byte limit."
                        )
                    chunks.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    raise _Closed
                event = h11.NEED_DATA
        if scope.cancelled_caught:
            raise RequestTimeout(f"Request body not received within {cfg.body_timeout:g} s.")
        request.body = b"".join(chunks)

    async def _respond(
        self, stream: trio.SocketStream, conn: h11.Connection, request: Request
    ) -> tuple[Response | StreamResponse | Upgrade, bool]:
        """Read the body and run the handler. Returns the response and whether the
        connection must close after it (the request was not fully read)."""
        try:
            # Body first (bounded by the limits), so an error answer keeps the connection.
            await self._read_body(stream, conn, request)
            handler = self.router.resolve(request)
            return await handler(request), False
        except CovenError as exc:
            return _error_response(exc), conn.their_state is not h11.DONE
        except Exception:
            log.exception("handler failed: %s %s", request.method, request.path)
            internal = InternalError("Internal server error.")
            return _error_response(internal), conn.their_state is not h11.DONE

    async def _send_response(
        self,
        stream: trio.SocketStream,
        conn: h11.Connection,
        response: Response,
        *,
        head_only: bool,
        close: bool,
    ) -> None:
        headers = [
            ("content-type", response.content_type),
            ("content-length", str(len(response.body))),
            *response.headers,
        ]
        if close:
            headers.append(("connection", "close"))
        status = response.status
        out = conn.send(
            h11.Response(status_code=status, headers=headers, reason=_REASONS.get(status, b""))
        )
        if response.body and not head_only:
            out += conn.send(h11.Data(data=response.body))
        out += conn.send(h11.EndOfMessage())
        # One write per response: a write costs ~14 µs of syscall and checkpoint.
        await stream.send_all(out)

    async def _send_stream(
        self,
        stream: trio.SocketStream,
        conn: h11.Connection,
        request: Request,
        response: StreamResponse,
        close: bool,
    ) -> bool:
        """Send a chunked response; returns whether the connection may be kept alive."""
        headers = list(response.headers)
        if close:
            headers.append(("connection", "close"))
        await stream.send_all(
            conn.send(
                h11.Response(
                    status_code=response.status,
                    headers=headers,
                    reason=_REASONS.get(response.status, b""),
                )
            )
        )
        if request.method == "HEAD":
            await stream.send_all(conn.send(h11.EndOfMessage()))
            return not close
        state = _StreamState()

        async def send(chunk: bytes) -> None:
            await stream.send_all(conn.send(h11.Data(data=chunk)))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._watch_disconnect, stream, conn, nursery.cancel_scope, state)
            try:
                await response.write_body(send)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
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
        self,
        stream: trio.SocketStream,
        conn: h11.Connection,
        scope: trio.CancelScope,
        state: _StreamState,
    ) -> None:
        """Read beside a streaming writer, so EOF cancels it even while it waits.

        Bytes that arrive (a pipelined next request) go into h11's buffer for the next
        cycle; past the head limit we stop reading and let the kernel hold the rest.
        """
        buffered = 0
        while buffered <= self.config.max_head_bytes:
            try:
                data = await stream.receive_some(MAX_RECV)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data:
                state.disconnected = True
                scope.cancel()
                return
            buffered += len(data)
            conn.receive_data(data)
        await trio.sleep_forever()

    async def _linger_close(self, stream: trio.SocketStream) -> None:
        """Half-close, then read and discard for a bounded time, so a client still
        sending its request body reads our answer rather than a broken pipe."""
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            await stream.send_eof()
            with trio.move_on_after(self.config.linger_timeout):
                while await stream.receive_some(MAX_RECV):
                    pass


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

    def __init__(self, prefix: bytes, stream: trio.SocketStream) -> None:
        self._prefix = prefix
        self._stream = stream

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._prefix:
            size = len(self._prefix) if max_bytes is None else max_bytes
            chunk, self._prefix = self._prefix[:size], self._prefix[size:]
            await trio.lowlevel.checkpoint()
            return chunk
        return await self._stream.receive_some(max_bytes)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self._stream.aclose()


__all__ = ["JSON_TYPE", "HttpServer"]
