"""One HTTP/1.1 connection: the h11 loop over any :class:`trio.abc.Stream`.

Resource handling: the stream is owned by :func:`serve_stream` and closed in its
``finally``; streaming responses and upgrades are in ``_stream.py``.

Error handling: nothing a client sends can end a connection with an exception. h11
protocol errors, limits and timeouts are answered with the JSON envelope while h11's
state allows a response; handler exceptions become a 500 ``internal_error`` envelope and
one log line with the traceback.

Any stream will do (a Unix socket in the daemon, ``trio.testing.memory_stream_pair`` in
the protocol tests), so timeouts can be tested on a mock clock.
"""

from __future__ import annotations

import contextlib
import logging
from http import HTTPStatus
from typing import Any

import attrs
import h11
import trio

from ..config import Config
from ..errors import (
    BadHttp,
    CovenError,
    HeadersTooLarge,
    InternalError,
    PayloadTooLarge,
    RequestTimeout,
    envelope,
)
from ._router import Request, Response, Router, StreamResponse, Upgrade
from ._stream import MAX_RECV, replayed, send_stream

log = logging.getLogger("coven_trio.http")

_REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}
#: The client's states in which its whole request was read and it sends nothing more
#: (``MUST_CLOSE``: it said ``connection: close``): closing at once loses nothing, so
#: there is no lingering read (a connection-per-request client's usual end).
_READ_TO_THE_END = (h11.MUST_CLOSE, h11.CLOSED)


class _Closed(Exception):
    """The peer went away, or an idle connection should end quietly."""


class _BadHead(Exception):
    """A parsed head we refuse; a HEAD request's error answer must carry no body."""

    def __init__(self, error: CovenError, *, head_only: bool) -> None:
        super().__init__(error.message)
        self.error = error
        self.head_only = head_only


def error_response(exc: CovenError) -> Response:
    return Response(status=exc.status, body=envelope(exc), headers=list(exc.headers))


@attrs.define(eq=False)
class Lifecycle:
    """What every connection of one server shares: whether it is closing, and the idle
    keep-alive waits to cancel when it does."""

    closing: bool = False
    idle_scopes: set[trio.CancelScope] = attrs.field(factory=set)

    def close(self) -> None:
        self.closing = True
        for scope in list(self.idle_scopes):
            scope.cancel()


async def serve_stream(
    stream: trio.abc.Stream,
    config: Config,
    router: Router,
    lifecycle: Lifecycle | None = None,
    label: object = "",
    peer_pid: int | None = None,
) -> None:
    """Serve HTTP/1.1 on ``stream`` until the client leaves or a limit ends it; the
    stream is closed on the way out. ``peer_pid``: the client process, where the
    transport can tell (a Unix socket's ``SO_PEERCRED``)."""
    conn = _Connection(stream, config, router, lifecycle or Lifecycle(), peer_pid)
    try:
        await conn.serve()
    except (trio.BrokenResourceError, trio.ClosedResourceError, _Closed):
        pass
    except Exception:
        log.exception("connection %s failed", label)
    finally:
        await trio.aclose_forcefully(stream)


async def send_error_and_close(stream: trio.abc.Stream, config: Config, exc: CovenError) -> None:
    """Answer without parsing a byte (peer refusal, capacity), then close."""
    conn = _Connection(stream, config, Router(), Lifecycle())
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await conn.send_response(
            h11.Connection(h11.SERVER), error_response(exc), head_only=False, close=True
        )
        await conn.linger_close()


class _Connection:
    def __init__(
        self,
        stream: trio.abc.Stream,
        config: Config,
        router: Router,
        lifecycle: Lifecycle,
        peer_pid: int | None = None,
    ) -> None:
        self.stream = stream
        self.config = config
        self.router = router
        self.lifecycle = lifecycle
        self.peer_pid = peer_pid

    async def serve(self) -> None:
        stream = self.stream
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.config.max_head_bytes)
        first = True
        while True:
            try:
                request = await self._receive_head(conn, first)
            except (CovenError, _BadHead) as exc:
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    bad = exc if isinstance(exc, _BadHead) else _BadHead(exc, head_only=False)
                    error = error_response(bad.error)
                    await self.send_response(conn, error, head_only=bad.head_only, close=True)
                await self.linger_close()
                return
            first = False
            response, must_close = await self._respond(conn, request)
            close = must_close or self.lifecycle.closing
            if isinstance(response, Upgrade):
                await response.run(replayed(stream, request, conn))
                return
            if isinstance(response, StreamResponse):
                keep = await send_stream(self.stream, conn, request, response, close, self.config)
            else:
                await self.send_response(
                    conn, response, head_only=request.method == "HEAD", close=close
                )
                keep = not close
            if not keep or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                if conn.their_state not in _READ_TO_THE_END:
                    await self.linger_close()  # the client may still be sending
                return
            conn.start_next_cycle()

    async def _receive(self, conn: h11.Connection) -> None:
        try:
            data = await self.stream.receive_some(MAX_RECV)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        conn.receive_data(bytes(data))

    async def _next_event(self, conn: h11.Connection) -> h11.Event:
        while True:
            event = self._poll(conn)
            if event is not h11.NEED_DATA:
                result: h11.Event = event
                return result
            await self._receive(conn)

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

    async def _receive_head(self, conn: h11.Connection, first: bool) -> Request:
        """Wait for the next request head.

        A connection's first request must arrive within ``head_timeout`` of accept. Later
        ones may idle for ``idle_timeout`` (then we close quietly, as nginx does: a 408 sent
        to an idle client could be read as the answer to its next request); once a byte of
        the head arrives, the rest must follow within ``head_timeout``.
        """
        cfg = self.config
        if not first and not conn.trailing_data[0]:
            with trio.CancelScope(deadline=trio.current_time() + cfg.idle_timeout) as idle:
                self.lifecycle.idle_scopes.add(idle)
                try:
                    if self.lifecycle.closing:
                        idle.cancel()
                    await self._receive(conn)
                finally:
                    self.lifecycle.idle_scopes.discard(idle)
            if idle.cancelled_caught:
                raise _Closed
        event = self._poll(conn)
        if event is h11.NEED_DATA:
            with trio.move_on_after(cfg.head_timeout) as head:
                event = await self._next_event(conn)
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
        request = Request.from_head(event.method.decode("ascii"), target, headers)
        request.peer_pid = self.peer_pid
        return request

    async def _read_body(self, conn: h11.Connection, request: Request) -> None:
        cfg = self.config
        length = request.headers.get("content-length")
        if length is not None and int(length) > cfg.max_body_bytes:
            raise PayloadTooLarge(f"Request body exceeds {cfg.max_body_bytes}-byte limit.")
        if conn.they_are_waiting_for_100_continue:
            await self.stream.send_all(
                conn.send(h11.InformationalResponse(status_code=100, headers=[]))
            )
        event = self._poll(conn)
        if isinstance(event, h11.EndOfMessage):
            return  # no body: the hot path needs no timeout scope
        chunks: list[bytes] = []
        size = 0
        with trio.move_on_after(cfg.body_timeout) as scope:
            while True:
                if event is h11.NEED_DATA:
                    event = await self._next_event(conn)
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
        self, conn: h11.Connection, request: Request
    ) -> tuple[Response | StreamResponse | Upgrade, bool]:
        """Read the body and run the handler. Returns the response and whether the
        connection must close after it (the request was not fully read)."""
        try:
            # Body first (bounded by the limits), so an error answer keeps the connection.
            await self._read_body(conn, request)
            handler = self.router.resolve(request)
            return await handler(request), False
        except CovenError as exc:
            return error_response(exc), conn.their_state is not h11.DONE
        except Exception:
            log.exception("handler failed: %s %s", request.method, request.path)
            internal = InternalError("Internal server error.")
            return error_response(internal), conn.their_state is not h11.DONE

    async def send_response(
        self,
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
        await self.stream.send_all(out)

    async def linger_close(self) -> None:
        """Half-close, then read and discard for a bounded time, so a client still
        sending its request body reads our answer rather than a broken pipe."""
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            if isinstance(self.stream, trio.abc.HalfCloseableStream):
                await self.stream.send_eof()
            with trio.move_on_after(self.config.linger_timeout):
                while await self.stream.receive_some(MAX_RECV):
                    pass
