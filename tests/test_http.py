"""The HTTP layer against the real daemon on its real Unix socket."""

from __future__ import annotations

import os
import stat

import h11
import httpx
import pytest
import trio

from coven_trio.config import Config
from coven_trio.daemon import Daemon
from coven_trio.http import HttpServer, Request, Response, Router

from .rawhttp import connect, exchange, get, read_response


async def test_health_shape(client: httpx.AsyncClient, daemon: Daemon) -> None:
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["ok"] is True
    assert body["apiVersion"] == "coven.daemon.v1"
    assert body["covenVersion"] == daemon.version
    caps = body["capabilities"]
    assert caps["sessions"] is caps["events"] is caps["actions"] is True
    assert caps["eventCursor"] == "sequence"
    assert caps["structuredErrors"] is True
    assert caps["eve"] is True
    assert isinstance(caps["websocket"], bool)
    assert "command" in caps["harnesses"]
    assert body["daemon"]["pid"] == os.getpid()
    assert body["daemon"]["socket"] == str(daemon.socket_path)
    assert body["daemon"]["startedAt"].endswith("Z")
    assert body["daemon"]["uptime"] >= 0
    legacy = await client.get("/health")
    assert legacy.json().keys() == body.keys()


async def test_api_version_and_capabilities(client: httpx.AsyncClient) -> None:
    version = await client.get("/api/v1/api-version")
    assert version.json() == {"apiVersion": "v1", "supportedApiVersions": ["v1"]}
    catalog = (await client.get("/api/v1/capabilities")).json()["capabilities"]
    actions = next(c for c in catalog if c["id"] == "coven.control.actions")["actions"]
    assert "coven.capabilities.refresh" in actions


async def test_not_found_method_not_allowed_and_version(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nope")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "Route not found."}}
    wrong = await client.delete("/api/v1/health")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    assert wrong.headers["allow"] == "GET"
    v2 = await client.get("/api/v2/health")
    assert v2.status_code == 404
    assert v2.json()["error"] == {
        "code": "unsupported_api_version",
        "message": "Unsupported API version.",
        "details": {"apiVersion": "v2", "supportedApiVersions": ["v1"]},
    }
    head = await client.head("/api/v1/health")
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) > 0


async def test_actions_refresh_and_rejections(client: httpx.AsyncClient) -> None:
    ok = await client.post(
        "/api/v1/actions",
        json={"action": " coven.capabilities.refresh ", "origin": "test", "intentId": "i-1"},
    )
    assert ok.status_code == 200
    body = ok.json()
    assert body["ok"] is body["accepted"] is True
    assert body["status"] == "completed"
    assert body["event"]["kind"] == "capabilities.refreshed"
    assert body["event"]["origin"] == "test"
    assert body["event"]["intentId"] == "i-1"
    cases = [
        (b"{not json", "(unknown)", "failed to parse request body"),
        (b"[1]", "(unknown)", "request body must be a JSON object"),
        (b"", "", "request body requires string field `action`"),
        (b'{"action":"desktop.rm"}', "desktop.rm", "unknown action `desktop.rm`"),
    ]
    for raw, action, reason in cases:
        response = await client.post("/api/v1/actions", content=raw)
        assert response.status_code == 400
        body = response.json()
        assert body["error"]["code"] == "action_rejected"
        assert (body["ok"], body["accepted"], body["status"]) == (False, False, "rejected")
        assert (body["action"], body["reason"]) == (action, reason)


async def test_body_over_limit_is_413(client: httpx.AsyncClient, daemon: Daemon) -> None:
    response = await client.post("/api/v1/actions", content=b"x" * (5 * 1024 * 1024))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert response.headers["connection"] == "close"
    # The same answer arrives before the body is sent at all.
    head = b"POST /api/v1/actions HTTP/1.1\r\nhost: c\r\ncontent-length: 5242880\r\n\r\n"
    raw = await exchange(daemon.socket_path, head)
    assert raw.status == 413


async def test_chunked_body_over_limit_is_413(daemon: Daemon) -> None:
    chunk = b"x" * 65536
    head = b"POST /api/v1/actions HTTP/1.1\r\nhost: c\r\ntransfer-encoding: chunked\r\n\r\n"
    body = (b"10000\r\n" + chunk + b"\r\n") * 80 + b"0\r\n\r\n"
    raw = await exchange(daemon.socket_path, head + body)
    assert raw.status == 413


async def test_head_over_limit_is_431(daemon: Daemon) -> None:
    big = "x-big: " + "a" * (100 * 1024) + "\r\n"
    raw = await exchange(daemon.socket_path, get("/api/v1/health", big))
    assert raw.status == 431
    assert raw.json()["error"]["code"] == "request_header_fields_too_large"
    assert raw.headers["connection"] == "close"


@pytest.mark.parametrize("daemon_options", [{"head_timeout": 0.3}])
async def test_incomplete_head_times_out_408(daemon: Daemon) -> None:
    with trio.fail_after(5):
        raw = await exchange(daemon.socket_path, b"GET /api/v1/health HTTP/1.1\r\nhost: c\r\n")
    assert raw.status == 408
    assert raw.json()["error"]["code"] == "request_timeout"
    assert raw.headers["connection"] == "close"


@pytest.mark.parametrize("daemon_options", [{"head_timeout": 0.3}])
async def test_silent_connection_times_out_408(daemon: Daemon) -> None:
    with trio.fail_after(5):
        raw = await exchange(daemon.socket_path, b"")
    assert raw.status == 408


@pytest.mark.parametrize("daemon_options", [{"idle_timeout": 0.3}])
async def test_idle_keepalive_is_closed_quietly(daemon: Daemon) -> None:
    stream = await connect(daemon.socket_path)
    async with stream:
        await stream.send_all(get("/api/v1/health"))
        first = await read_response(stream)
        assert first.status == 200
        with trio.fail_after(5):
            assert await stream.receive_some(1024) == b""


async def test_keepalive_100_requests_on_one_connection(daemon: Daemon) -> None:
    stream = await connect(daemon.socket_path)
    async with stream:
        conn = h11.Connection(h11.CLIENT)
        for _ in range(100):
            request = h11.Request(method="GET", target="/api/v1/health", headers=[("host", "c")])
            await stream.send_all(conn.send(request) + conn.send(h11.EndOfMessage()))
            response = await read_response(stream, conn)
            assert response.status == 200
            assert response.json()["ok"] is True
            conn.start_next_cycle()


async def test_pipelined_requests_answered_in_order(daemon: Daemon) -> None:
    stream = await connect(daemon.socket_path)
    async with stream:
        await stream.send_all(get("/api/v1/health") + get("/api/v1/nope") + get("/health"))
        conn = h11.Connection(h11.CLIENT)
        statuses = []
        for _ in range(3):
            conn.send(h11.Request(method="GET", target="/", headers=[("host", "c")]))
            conn.send(h11.EndOfMessage())
            statuses.append((await read_response(stream, conn)).status)
            conn.start_next_cycle()
        assert statuses == [200, 404, 200]


async def test_half_closed_client_is_answered(daemon: Daemon) -> None:
    raw = await exchange(daemon.socket_path, get("/api/v1/health"), half_close=True)
    assert raw.status == 200
    assert raw.json()["ok"] is True
    body = b'{"action":"coven.capabilities.refresh"}'
    post = (
        b"POST /api/v1/actions HTTP/1.1\r\nhost: c\r\ncontent-length: %d\r\n\r\n" % len(body) + body
    )
    raw = await exchange(daemon.socket_path, post, half_close=True)
    assert raw.status == 200


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/9.9\r\nhost: c\r\n\r\n",
        b"GET /api/v1/health HTTP/1.1\r\nbad header\r\n\r\n",
        b"POST /api/v1/actions HTTP/1.1\r\nhost: c\r\ncontent-length: zz\r\n\r\n",
    ],
)
async def test_malformed_request_is_400_envelope(daemon: Daemon, request_bytes: bytes) -> None:
    raw = await exchange(daemon.socket_path, request_bytes)
    assert raw.status == 400
    assert raw.json()["error"]["code"] == "bad_request"
    assert raw.headers["connection"] == "close"
    # ... and the daemon goes on serving.
    assert (await exchange(daemon.socket_path, get("/health"))).status == 200


async def test_socket_and_home_modes(daemon: Daemon) -> None:
    assert stat.S_IMODE(os.stat(daemon.socket_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(daemon.config.home).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(daemon.config.home / "daemon.json").st_mode) == 0o600


async def test_handler_error_is_500_and_server_survives(tmp_short: object) -> None:
    """A handler that raises becomes a 500 envelope; the next request is served."""
    import socket as stdlib_socket
    from pathlib import Path

    assert isinstance(tmp_short, Path)

    async def boom(request: Request) -> Response:
        raise RuntimeError("bug")

    async def fine(request: Request) -> Response:
        return Response.json({"ok": True})

    router = Router()
    router.add("GET", "/boom", boom)
    router.add("GET", "/fine", fine)
    path = tmp_short / "s.sock"
    sock = trio.socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
    await sock.bind(str(path))
    sock.listen(16)
    server = HttpServer(Config(home=tmp_short), router)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, sock)
        stream = await connect(path)
        async with stream:
            await stream.send_all(get("/boom") + get("/fine"))
            conn = h11.Connection(h11.CLIENT)
            conn.send(h11.Request(method="GET", target="/", headers=[("host", "c")]))
            conn.send(h11.EndOfMessage())
            failed = await read_response(stream, conn)
            assert failed.status == 500
            assert failed.json()["error"]["code"] == "internal_error"
            conn.start_next_cycle()
            conn.send(h11.Request(method="GET", target="/", headers=[("host", "c")]))
            conn.send(h11.EndOfMessage())
            assert (await read_response(stream, conn)).status == 200
        nursery.cancel_scope.cancel()


async def test_refused_head_request_gets_a_bodiless_answer(daemon: Daemon) -> None:
    """Found by the long fuzz run: an error answer to a HEAD request has no body."""
    stream = await connect(daemon.socket_path)
    async with stream:
        await stream.send_all(b"HEAD / HTTP/2.0\r\nhost: c\r\n\r\n")
        data = b""
        with trio.fail_after(5):
            while chunk := await stream.receive_some(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert body == b""
    assert (await exchange(daemon.socket_path, get("/health"))).status == 200
