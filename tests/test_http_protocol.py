"""The HTTP/1.1 connection loop over in-memory streams, on trio's mock clock.

The loop runs over any ``trio.abc.Stream``, so these tests need no socket, and the
timeouts (10 s head, 30 s body, 60 s idle: the real defaults) pass in milliseconds of
real time: each test runs on pytest-trio's ``autojump_clock``, which skips ahead whenever
every task waits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import h11
import pytest
import trio
import trio.testing
from trio.testing import MockClock

from coven_trio.config import Config
from coven_trio.http import Lifecycle, Request, Response, Router, StreamResponse, serve_stream

from .rawhttp import RawResponse, get, read_response

CONFIG = Config(home=Path("/nonexistent"))


def _router() -> Router:
    async def hello(request: Request) -> Response:
        return Response.json({"ok": True})

    async def echo(request: Request) -> Response:
        return Response.json({"bytes": len(request.body)})

    async def boom(request: Request) -> Response:
        raise RuntimeError("a bug in a handler")

    async def forever(request: Request) -> StreamResponse:
        async def write(send: Any) -> None:
            await send(b"first\n")
            await trio.sleep_forever()

        return StreamResponse(200, [("content-type", "application/x-ndjson")], write)

    router = Router()
    router.add("GET", "/hello", hello)
    router.add("POST", "/echo", echo)
    router.add("GET", "/boom", boom)
    router.add("GET", "/forever", forever)
    return router


@asynccontextmanager
async def connection(
    lifecycle: Lifecycle | None = None, **limits: Any
) -> AsyncIterator[trio.testing.MemoryStapledStream]:
    """The client end of an in-memory connection served by the real loop."""
    client, server = trio.testing.memory_stream_pair()
    config = Config(home=Path("/nonexistent"), **limits) if limits else CONFIG
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_stream, server, config, _router(), lifecycle)
        yield client
        nursery.cancel_scope.cancel()


async def read_all(stream: trio.abc.ReceiveStream) -> bytes:
    data = b""
    while chunk := await stream.receive_some(65536):
        data += chunk
    return data


async def response(stream: Any, conn: h11.Connection | None = None) -> RawResponse:
    return await read_response(stream, conn)


def post(target: str, body: bytes, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return f"POST {target} HTTP/1.1\r\nhost: c\r\ncontent-length: {size}\r\n\r\n".encode() + body


async def test_a_head_must_arrive_within_the_head_timeout(autojump_clock: MockClock) -> None:
    async with connection() as client:
        start = trio.current_time()
        await client.send_all(b"GET /hello HTTP/1.1\r\nhost: c\r\n")  # no blank line
        answer = await response(client)
        assert answer.status == 408
        assert answer.json()["error"]["code"] == "request_timeout"
        assert answer.headers["connection"] == "close"
        assert trio.current_time() - start == pytest.approx(CONFIG.head_timeout)


async def test_a_silent_connection_gets_408_after_the_head_timeout(
    autojump_clock: MockClock,
) -> None:
    async with connection() as client:
        answer = await response(client)
        assert answer.status == 408
        assert trio.current_time() == pytest.approx(CONFIG.head_timeout)


async def test_a_body_must_arrive_within_the_body_timeout(autojump_clock: MockClock) -> None:
    async with connection() as client:
        await client.send_all(post("/echo", b"12345", length=10))
        start = trio.current_time()
        answer = await response(client)
        assert answer.status == 408
        assert "body" in answer.json()["error"]["message"]
        assert trio.current_time() - start == pytest.approx(CONFIG.body_timeout)


async def test_an_idle_keepalive_connection_is_closed_quietly(autojump_clock: MockClock) -> None:
    async with connection() as client:
        await client.send_all(get("/hello"))
        assert (await response(client)).status == 200
        start = trio.current_time()
        assert await client.receive_some(1024) == b""  # closed, no 408 sent
        assert trio.current_time() - start == pytest.approx(CONFIG.idle_timeout)


async def test_a_slow_second_request_after_idle_gets_the_head_timeout(
    autojump_clock: MockClock,
) -> None:
    async with connection() as client:
        await client.send_all(get("/hello"))
        assert (await response(client)).status == 200
        await trio.sleep(CONFIG.idle_timeout / 2)
        await client.send_all(b"GET /he")  # a head begins: now the head timeout runs
        answer = await response(client)
        assert answer.status == 408


async def test_keepalive_serves_100_requests_on_one_connection(autojump_clock: MockClock) -> None:
    async with connection() as client:
        conn = h11.Connection(h11.CLIENT)
        for _ in range(100):
            request = h11.Request(method="GET", target="/hello", headers=[("host", "c")])
            await client.send_all(conn.send(request) + conn.send(h11.EndOfMessage()))
            assert (await response(client, conn)).json() == {"ok": True}
            conn.start_next_cycle()


async def test_pipelined_requests_are_answered_in_order(autojump_clock: MockClock) -> None:
    async with connection() as client:
        await client.send_all(get("/hello") + get("/nope") + post("/echo", b"abc"))
        conn = h11.Connection(h11.CLIENT)
        statuses = []
        for _ in range(3):
            conn.send(h11.Request(method="GET", target="/", headers=[("host", "c")]))
            conn.send(h11.EndOfMessage())
            statuses.append((await response(client, conn)).status)
            conn.start_next_cycle()
        assert statuses == [200, 404, 200]


async def test_a_half_closed_client_still_gets_its_answer(autojump_clock: MockClock) -> None:
    async with connection() as client:
        await client.send_all(post("/echo", b"abcd"))
        await client.send_eof()
        answer = await response(client)
        assert answer.json() == {"bytes": 4}


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/9.9\r\nhost: c\r\n\r\n",
        b"GET /hello HTTP/1.1\r\nbad header\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nhost: c\r\ncontent-length: zz\r\n\r\n",
        b"GET /h\xc3\xa9llo HTTP/1.1\r\nhost: c\r\n\r\n",
    ],
)
async def test_malformed_requests_get_a_400_envelope_and_close(
    raw: bytes, autojump_clock: MockClock
) -> None:
    async with connection() as client:
        await client.send_all(raw)
        answer = await response(client)
        assert answer.status == 400
        assert answer.json()["error"]["code"] == "bad_request"
        assert answer.headers["connection"] == "close"


async def test_a_refused_head_request_gets_no_body(autojump_clock: MockClock) -> None:
    async with connection() as client:
        await client.send_all(b"HEAD / HTTP/2.0\r\nhost: c\r\n\r\n")
        head, _, body = (await read_all(client)).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 ")
        assert body == b""


async def test_an_oversized_head_is_431(autojump_clock: MockClock) -> None:
    async with connection(max_head_bytes=1024) as client:
        await client.send_all(get("/hello", "x-big: " + "a" * 2000 + "\r\n"))
        answer = await response(client)
        assert answer.status == 431
        assert answer.headers["connection"] == "close"


@pytest.mark.parametrize("chunked", [False, True])
async def test_an_oversized_body_is_413(chunked: bool, autojump_clock: MockClock) -> None:
    async with connection(max_body_bytes=100) as client:
        if chunked:
            head = b"POST /echo HTTP/1.1\r\nhost: c\r\ntransfer-encoding: chunked\r\n\r\n"
            await client.send_all(head + b"80\r\n" + b"x" * 128 + b"\r\n0\r\n\r\n")
        else:
            await client.send_all(post("/echo", b"", length=101))  # refused before the body
        answer = await response(client)
        assert answer.status == 413
        assert answer.json()["error"]["code"] == "payload_too_large"


async def test_a_handler_exception_is_500_and_the_connection_goes_on(
    autojump_clock: MockClock,
) -> None:
    async with connection() as client:
        await client.send_all(get("/boom") + get("/hello"))
        conn = h11.Connection(h11.CLIENT)
        conn.send(h11.Request(method="GET", target="/", headers=[("host", "c")]))
        conn.send(h11.EndOfMessage())
        failed = await response(client, conn)
        assert (failed.status, failed.json()["error"]["code"]) == (500, "internal_error")
        conn.start_next_cycle()
        conn.send(h11.Request(method="GET", target="/", headers=[("host", "c")]))
        conn.send(h11.EndOfMessage())
        assert (await response(client, conn)).status == 200


async def test_a_stream_is_cancelled_when_its_client_leaves(autojump_clock: MockClock) -> None:
    client, server = trio.testing.memory_stream_pair()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_stream, server, CONFIG, _router())
            await client.send_all(get("/forever"))
            received = b""
            while b"first" not in received:
                received += await client.receive_some(65536)
            await client.aclose()  # the server's writer waits forever: EOF must end it
    # the nursery closed by itself: the connection task ended


async def test_closing_the_server_ends_idle_connections_at_once(autojump_clock: MockClock) -> None:
    lifecycle = Lifecycle()
    async with connection(lifecycle) as client:
        await client.send_all(get("/hello"))
        assert (await response(client)).status == 200
        start = trio.current_time()
        lifecycle.close()
        assert await client.receive_some(1024) == b""
        assert trio.current_time() - start < 1


async def test_a_request_during_close_is_answered_then_closed(autojump_clock: MockClock) -> None:
    lifecycle = Lifecycle()
    lifecycle.close()
    async with connection(lifecycle) as client:
        await client.send_all(get("/hello"))
        answer = await response(client)
        assert (answer.status, answer.headers["connection"]) == (200, "close")
