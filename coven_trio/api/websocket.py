"""WebSocket view of a session: ``GET …/ws?startIndex=N`` on the same Unix socket.

Each journal entry is one text message in the eve line shape (replay, then live; the
same cursor semantics as the NDJSON stream). The client may send
``{"type":"input","data":…}`` (like ``POST …/input``) and ``{"type":"resize","cols":…,
"rows":…}`` (like ``POST …/resize``); a refused one is answered with
``{"type":"error","error":{code,message}}``. The socket closes (1000)
after the session's terminal entry.

The h11 request already parsed is handed to trio-websocket by replaying its head in
front of the stream (``http.Upgrade``), since trio-websocket parses the upgrade itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio

from .. import models
from .._json import JsonRejected, dumps, loads_request
from ..errors import CovenError, InvalidRequest
from ..http import Request, Response, Router, Upgrade
from ..journal import Journal
from ..sessions import Historical, Session, live
from ._context import ApiContext
from ._params import input_data, start_index
from ._tail import eve_lines, tail

if TYPE_CHECKING:
    import trio_websocket

#: Incoming messages are small commands; 4 MiB matches the HTTP body limit.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


async def _receive_commands(
    ws: trio_websocket.WebSocketConnection, session: Session | Historical
) -> None:
    import trio_websocket

    while True:
        try:
            message = await ws.get_message()
        except trio_websocket.ConnectionClosed:
            return
        try:
            raw = message if isinstance(message, bytes) else message.encode()
            command = loads_request(raw)
            kind = command.get("type") if isinstance(command, dict) else None
            body = {k: v for k, v in command.items() if k != "type"} if kind else {}
            if kind == "input":
                data = input_data(body, {"sessionId": session.id})
                await live(session).send_input(data, body)
            elif kind == "resize":
                size = models.structure(body, models.ResizeRequest)
                live(session).resize(size.rows, size.cols)
            else:
                raise InvalidRequest(
                    'expected {"type":"input","data":…} or {"type":"resize","cols":…,"rows":…}'
                )
        except (JsonRejected, CovenError) as exc:
            error = exc if isinstance(exc, CovenError) else InvalidRequest("invalid JSON")
            reply = {"type": "error", "error": {"code": error.code, "message": error.message}}
            try:
                await ws.send_message(dumps(reply).decode())
            except trio_websocket.ConnectionClosed:
                return


def _upgrade(
    session: Session | Historical, journal: Journal, start: int, send_timeout: float
) -> Upgrade:
    async def run(stream: trio.abc.Stream) -> None:
        # Imported on the first WebSocket: ~25 ms (wsproto, importlib.metadata) that a
        # daemon nobody opens a WebSocket to never pays at startup.
        import trio_websocket

        async with trio.open_nursery() as nursery:
            request = await trio_websocket.wrap_server_stream(
                nursery, stream, max_message_size=MAX_MESSAGE_BYTES
            )
            ws = await request.accept()

            async def send(chunk: bytes) -> None:
                with trio.fail_after(send_timeout):  # a stalled reader is dropped
                    for line in chunk.splitlines():
                        await ws.send_message(line.decode())

            async def serve_commands() -> None:
                await _receive_commands(ws, session)
                nursery.cancel_scope.cancel()  # the client left: stop tailing at once

            nursery.start_soon(serve_commands)
            try:
                await tail(journal, start, send, eve_lines)
                await ws.aclose()
            except (trio_websocket.ConnectionClosed, trio.TooSlowError):
                pass
            nursery.cancel_scope.cancel()

    return Upgrade(run)


class WebSocketView:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    async def connect(self, request: Request) -> Response | Upgrade:
        start = start_index(request.query)
        session = await self.ctx.sessions.find(request.params["id"])
        if request.headers.get("upgrade", "").lower() != "websocket":
            raise InvalidRequest(
                "This route speaks WebSocket: send `Upgrade: websocket`.",
                headers=[("upgrade", "websocket")],
            )
        journal = await self.ctx.sessions.journal(session)
        return _upgrade(session, journal, start, self.ctx.config.send_timeout)


def install(router: Router, ctx: ApiContext) -> Any:
    view = WebSocketView(ctx)
    router.add("GET", "/api/v1/sessions/{id}/ws", view.connect)
    router.add("GET", ctx.config.eve_mount + "/session/{id}/ws", view.connect)
    return view
