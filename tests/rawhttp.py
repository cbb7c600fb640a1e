"""Raw-bytes HTTP over the Unix socket, parsed with h11's client side."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import attrs
import h11
import trio


@attrs.define
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def connect(path: Path) -> trio.SocketStream:
    return await trio.open_unix_socket(str(path))


async def read_response(
    stream: trio.SocketStream, conn: h11.Connection | None = None
) -> RawResponse:
    """Read one response (skipping 1xx) from ``stream``."""
    conn = conn or h11.Connection(h11.CLIENT)
    if conn.our_state is h11.IDLE:
        # We wrote the request ourselves; tell h11 one was sent so it parses a response.
        conn.send(h11.Request(method="GET", target="/", headers=[("host", "x")]))
        conn.send(h11.EndOfMessage())
    status = 0
    headers: dict[str, str] = {}
    body = b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await stream.receive_some(65536))
            continue
        if isinstance(event, h11.InformationalResponse):
            continue
        if isinstance(event, h11.Response):
            status = event.status_code
            headers = {k.decode(): v.decode() for k, v in event.headers}
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            return RawResponse(status, headers, body)
        elif isinstance(event, h11.ConnectionClosed):
            raise EOFError("connection closed before a full response")


async def exchange(path: Path, data: bytes, *, half_close: bool = False) -> RawResponse:
    """Send ``data`` on a fresh connection (optionally shut down writing) and read one
    response."""
    stream = await connect(path)
    async with stream:
        await stream.send_all(data)
        if half_close:
            stream.socket.shutdown(socket.SHUT_WR)
        return await read_response(stream)


def get(target: str, extra: str = "") -> bytes:
    return f"GET {target} HTTP/1.1\r\nhost: coven\r\n{extra}\r\n".encode()
