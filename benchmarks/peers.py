"""Peer servers for the request-rate benchmark, all answering the same JSON on a Unix
socket: a bare trio + h11 loop (the floor of our stack), and an ASGI app for hypercorn
(trio worker) and uvicorn (httptools).

    python -m benchmarks.peers bare SOCKET BODY_FILE
    BENCH_BODY_FILE=… hypercorn --worker-class trio --bind unix:SOCKET benchmarks.peers:app
    BENCH_BODY_FILE=… uvicorn --uds SOCKET --http httptools benchmarks.peers:app
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

import h11
import trio

_BODY: bytes | None = None


def _body() -> bytes:
    global _BODY
    if _BODY is None:
        with open(os.environ["BENCH_BODY_FILE"], "rb") as f:
            _BODY = f.read()
    return _BODY


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI peer: every HTTP request gets the body."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = _body()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _bare_connection(stream: trio.SocketStream, body: bytes) -> None:
    conn = h11.Connection(h11.SERVER)
    headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
    async with stream:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await stream.receive_some(65536)
                conn.receive_data(data)
                if not data and conn.their_state is not h11.DONE:
                    return
                continue
            if isinstance(event, h11.ConnectionClosed):
                return
            if isinstance(event, h11.EndOfMessage):
                out = conn.send(h11.Response(status_code=200, headers=headers, reason=b"OK"))
                out += conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage())
                await stream.send_all(out)
                if conn.our_state is h11.MUST_CLOSE:  # the client said connection: close
                    return
                conn.start_next_cycle()


async def bare(path: str, body: bytes) -> None:
    """The floor: trio + h11 with nothing else (no routing, no limits, no JSON)."""
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await sock.bind(path)
    sock.listen(4096)
    listener = trio.SocketListener(sock)
    await trio.serve_listeners(lambda s: _bare_connection(s, body), [listener])


if __name__ == "__main__":
    if sys.argv[1] != "bare":
        raise SystemExit("usage: python -m benchmarks.peers bare SOCKET BODY_FILE")
    with open(sys.argv[3], "rb") as f:
        trio.run(bare, sys.argv[2], f.read())
