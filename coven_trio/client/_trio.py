"""The trio client for the daemon, over its Unix socket (streams, and programs).

Built on h11 and ``trio.open_unix_socket`` rather than an HTTP library: the runtime
dependencies are trio, h11, attrs, cattrs and trio-websocket, h11 is already the
daemon's own HTTP layer, and a local socket needs no pooling, TLS or proxies. One
connection per request keeps it simple and correct; a local connect costs microseconds.

Every error the daemon answers is raised as :class:`ClientError` carrying the
envelope's ``code``; a daemon that cannot be reached is :class:`DaemonUnreachable`.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import h11
import trio

from .._defaults import DEFAULT_EVE_MOUNT, SOCKET_NAME, default_home
from ..vocabulary import LIVE_STATUSES, TERMINAL
from . import _targets as to
from ._wire import (
    JSON,
    BadResponse,
    ClientError,
    ClientTimeout,
    DaemonUnreachable,
    decode_answer,
    error_of,
)


def _next(conn: h11.Connection) -> Any:
    """h11's next event, its protocol errors as :class:`BadResponse`."""
    try:
        return conn.next_event()
    except h11.ProtocolError as exc:
        raise BadResponse(str(exc)) from None


def encode_request(
    conn: h11.Connection,
    method: str,
    target: str,
    body: Any = None,
    headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """The whole request (one per connection), JSON body and all."""
    payload = b"" if body is None else json.dumps(body).encode()
    head = [("host", "coven"), ("connection", "close"), *headers]
    if body is not None:
        head += [("content-type", "application/json"), ("content-length", str(len(payload)))]
    data = conn.send(h11.Request(method=method, target=target, headers=head))
    if payload:
        data += conn.send(h11.Data(data=payload))
    return data + conn.send(h11.EndOfMessage())


class _Response:
    """An open response whose body is read as it arrives."""

    def __init__(self, stream: trio.SocketStream, conn: h11.Connection, head: h11.Response):
        self.stream = stream
        self.conn = conn
        self.status = head.status_code
        self.headers = {k.decode(): v.decode() for k, v in head.headers}

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            event = _next(self.conn)
            if event is h11.NEED_DATA:
                self.conn.receive_data(await self.stream.receive_some(65536))
            elif isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])

    async def lines(self) -> AsyncIterator[bytes]:
        """Non-blank NDJSON lines (blank lines are heartbeats)."""
        buffer = b""
        async for chunk in self.chunks():
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            for line in complete:
                if line.strip():
                    yield line
        if buffer.strip():
            yield buffer


class Client:
    """``Client(socket_path)``; every method is one request to the daemon."""

    def __init__(
        self,
        socket_path: str | os.PathLike[str] | None = None,
        *,
        eve_mount: str = DEFAULT_EVE_MOUNT,
        timeout: float = 60.0,
    ) -> None:
        self.socket_path = Path(socket_path or default_home() / SOCKET_NAME)
        self.eve_mount = "/" + eve_mount.strip("/")
        self.timeout = timeout

    # --- transport -----------------------------------------------------------------------

    async def _open(
        self, method: str, target: str, body: Any = None, headers: Sequence[tuple[str, str]] = ()
    ) -> _Response:
        """Connect, send the request, read the response head (within ``timeout``)."""
        try:
            with trio.fail_after(self.timeout):
                return await self._exchange(method, target, body, headers)
        except trio.TooSlowError:
            raise ClientTimeout(self.timeout) from None

    async def _exchange(
        self, method: str, target: str, body: Any, headers: Sequence[tuple[str, str]]
    ) -> _Response:
        try:
            stream = await trio.open_unix_socket(str(self.socket_path))
        except OSError as exc:
            raise DaemonUnreachable(self.socket_path, exc.strerror or str(exc)) from None
        try:
            conn = h11.Connection(h11.CLIENT)
            await stream.send_all(encode_request(conn, method, target, body, headers))
            while True:
                event = _next(conn)
                if event is h11.NEED_DATA:
                    conn.receive_data(await stream.receive_some(65536))
                elif isinstance(event, h11.Response):
                    return _Response(stream, conn, event)
                elif isinstance(event, h11.ConnectionClosed):
                    raise trio.BrokenResourceError("connection closed before a response")
        except BaseException:
            await trio.aclose_forcefully(stream)
            raise

    async def request(self, method: str, target: str, body: Any = None, **headers: str) -> Any:
        """One JSON request; raises :class:`ClientError` for an error answer."""
        try:
            with trio.fail_after(self.timeout):
                response = await self._exchange(method, target, body, list(headers.items()))
                async with response.stream:
                    data = await response.read()
        except trio.TooSlowError:
            raise ClientTimeout(self.timeout) from None
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise BadResponse(f"connection lost ({exc})") from None
        return decode_answer(response.status, data)

    # --- /api/v1 -------------------------------------------------------------------------

    async def health(self) -> JSON:
        result: JSON = await self.request("GET", to.HEALTH)
        return result

    async def api_version(self) -> JSON:
        result: JSON = await self.request("GET", to.API_VERSION)
        return result

    async def capabilities(self) -> JSON:
        result: JSON = await self.request("GET", to.CAPABILITIES)
        return result

    async def action(self, action: str, **args: Any) -> JSON:
        result: JSON = await self.request("POST", to.ACTIONS, {"action": action, "args": args})
        return result

    async def sessions(self, *, limit: int | None = None, cursor: str | None = None) -> Any:
        """Every session (a list), or one page (``{sessions, next_cursor}``) with
        ``limit``/``cursor``."""
        return await self.request("GET", to.sessions(limit=limit, cursor=cursor))

    async def launch(
        self,
        *,
        project_root: str | os.PathLike[str],
        harness: str,
        prompt: str | None = None,
        cwd: str | None = None,
        launch_mode: str | None = None,
        model: str | None = None,
        title: str | None = None,
        command: Sequence[str] | None = None,
        follow_ups: bool = False,
        **options: Any,
    ) -> JSON:
        # The daemon resolves paths in its own working folder: send ours, absolute.
        root = os.path.abspath(project_root)  # noqa: ASYNC240 - getcwd, no I/O wait
        body = {
            "projectRoot": root,
            "harness": harness,
            "prompt": prompt,
            "cwd": cwd,
            "launchMode": launch_mode,
            "model": model,
            "title": title,
            "command": list(command) if command is not None else None,
            "followUps": True if follow_ups else None,
            **options,  # permissionMode, sandbox, approval, …: as the API names them
        }
        result: JSON = await self.request(
            "POST", to.SESSIONS, {k: v for k, v in body.items() if v is not None}
        )
        return result

    async def session(self, session_id: str) -> JSON:
        result: JSON = await self.request("GET", to.session(session_id))
        return result

    async def events(
        self, session_id: str, *, after_seq: int | None = None, limit: int | None = None
    ) -> JSON:
        target = to.events(session_id, after_seq=after_seq, limit=limit)
        result: JSON = await self.request("GET", target)
        return result

    async def send_input(self, session_id: str, data: str) -> JSON:
        result: JSON = await self.request("POST", to.session(session_id, "/input"), {"data": data})
        return result

    async def resize(self, session_id: str, rows: int, cols: int) -> JSON:
        size = {"rows": rows, "cols": cols}
        result: JSON = await self.request("POST", to.session(session_id, "/resize"), size)
        return result

    async def cancel_turn(self, session_id: str) -> JSON:
        """Stop the running turn, not the session (``{status: accepted|no_active_turn}``)."""
        target = to.eve(self.eve_mount, session_id, "/cancel")
        result: JSON = await self.request("POST", target, {})
        return result

    async def kill(self, session_id: str) -> JSON:
        result: JSON = await self.request("POST", to.session(session_id, "/kill"))
        return result

    async def inbox(self) -> list[JSON]:
        """Every open approval and question of every live session, oldest first."""
        result: JSON = await self.request("GET", to.INBOX)
        items: list[JSON] = result["items"]
        return items

    async def respond(self, session_id: str, request_id: str, answer: str) -> JSON:
        """Answer one open question: an option's id or label, ``yes``/``no`` to an
        approval, or free text to a question that takes it."""
        body = {"requestId": request_id, "optionId": answer}
        result: JSON = await self.request("POST", to.session(session_id, "/respond"), body)
        return result

    async def notifications(self, after_seq: int = 0) -> JSON:
        """The recent notifications (``{notifications, lastSeq}``)."""
        result: JSON = await self.request("GET", to.notifications(after_seq))
        return result

    async def follow_notifications(self, after_seq: int = 0) -> AsyncIterator[JSON]:
        """The recent notifications after ``after_seq``, then each as it comes."""
        response = await self._open("GET", to.notifications(after_seq, follow=True))
        async with response.stream:
            if response.status >= 400:
                raise error_of(response.status, await response.read())
            async for line in response.lines():
                if line.strip():
                    yield json.loads(line)

    # --- eve -----------------------------------------------------------------------------

    async def eve_health(self) -> JSON:
        result: JSON = await self.request("GET", f"{self.eve_mount}/health")
        return result

    async def eve_info(self) -> JSON:
        result: JSON = await self.request("GET", f"{self.eve_mount}/info")
        return result

    async def eve_create(
        self,
        message: str,
        *,
        agent: str | None = None,
        output_schema: JSON | None = None,
        client_context: Any = None,
    ) -> JSON:
        """``POST {mount}/session`` → ``{ok, sessionId, continuationToken}``."""
        body = {
            "message": message,
            "agent": agent,
            "outputSchema": output_schema,
            "clientContext": client_context,
        }
        result: JSON = await self.request(
            "POST", to.eve(self.eve_mount), {k: v for k, v in body.items() if v is not None}
        )
        return result

    async def eve_send(
        self,
        session_id: str,
        continuation_token: str,
        message: str | None = None,
        *,
        input_responses: Sequence[JSON] | None = None,
        output_schema: JSON | None = None,
        client_context: Any = None,
    ) -> JSON:
        """A follow-up turn; the answer carries the next ``continuationToken``."""
        body = {
            "continuationToken": continuation_token,
            "message": message,
            "inputResponses": list(input_responses) if input_responses else None,
            "outputSchema": output_schema,
            "clientContext": client_context,
        }
        result: JSON = await self.request(
            "POST",
            to.eve(self.eve_mount, session_id),
            {k: v for k, v in body.items() if v is not None},
        )
        return result

    async def tail(
        self,
        session_id: str,
        start_index: int = 0,
        *,
        reconnect_attempts: int = 5,
        reconnect_delay: float = 0.2,
        person: bool = False,
    ) -> AsyncIterator[JSON]:
        """Every journal entry (eve line shape) from ``start_index``: replay, then live,
        until the session's terminal entry.

        A dropped connection is resumed from the entry after the last one yielded, so
        nothing is missed or repeated. ``reconnect_attempts`` failures in a row (without
        progress in between) raise the last error.
        """
        next_index = start_index
        failures = 0
        target = to.eve(self.eve_mount, session_id, "/stream")
        while True:
            progressed = False
            try:
                headers = [("coven-attach", "person")] if person else []
                response = await self._open(
                    "GET", f"{target}?startIndex={next_index}", None, headers
                )
                async with response.stream:
                    if response.status >= 400:
                        raise error_of(response.status, await response.read())
                    async for line in response.lines():
                        try:
                            entry: JSON = json.loads(line)
                        except ValueError:
                            raise BadResponse("a stream line is not JSON") from None
                        index = entry.get("streamIndex", next_index)
                        if index < next_index:
                            continue
                        next_index = index + 1
                        failures, progressed = 0, True
                        yield entry
                        if entry.get("type") in TERMINAL:
                            return
                # A clean end without the terminal entry: the connection was cut, or
                # we asked past the end of a finished session.
                if not progressed:
                    record = await self.session(session_id)
                    if record["status"] not in LIVE_STATUSES:
                        return
                    failures += 1
                    if failures > reconnect_attempts:
                        raise BadResponse("the stream keeps ending early")
            except ClientError as exc:
                if not isinstance(exc, DaemonUnreachable | ClientTimeout | BadResponse):
                    raise  # the daemon answered: an error of the request itself
                failures += 1
                if failures > reconnect_attempts:
                    raise
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                failures += 1
                if failures > reconnect_attempts:
                    raise BadResponse("the stream keeps breaking") from None
            await trio.sleep(reconnect_delay if failures else 0)


__all__ = ["BadResponse", "Client", "ClientError", "ClientTimeout", "DaemonUnreachable"]
