"""WebSocket streaming with trio-websocket's own client, on the daemon's Unix socket."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio_websocket

from coven_trio.daemon import Daemon

from .sessions_util import launch, wait_for_kind

pytestmark = pytest.mark.usefixtures("fakes_on_path")


async def _connect(
    nursery: trio.Nursery, daemon: Daemon, resource: str
) -> trio_websocket.WebSocketConnection:
    stream = await trio.open_unix_socket(str(daemon.socket_path))
    return await trio_websocket.wrap_client_stream(nursery, stream, "localhost", resource)


async def test_replay_live_and_input(
    client: httpx.AsyncClient, daemon: Daemon, tmp_short: Path
) -> None:
    sid = (await launch(client, tmp_short, harness="claude", prompt="first"))["id"]
    await wait_for_kind(client, sid, "session.waiting")
    replayed = daemon.journal(sid).read_lines(0)[0].splitlines()
    received: list[dict[str, object]] = []
    async with trio.open_nursery() as nursery:
        ws = await _connect(nursery, daemon, f"/api/v1/sessions/{sid}/ws?startIndex=0")
        with trio.fail_after(30):
            while len(received) < len(replayed):
                received.append(json.loads(await ws.get_message()))
        assert [json.dumps(r, separators=(",", ":")).encode() for r in received] == replayed
        await ws.send_message(json.dumps({"type": "input", "data": "second"}))
        with trio.fail_after(30):
            while True:
                event = json.loads(await ws.get_message())
                received.append(event)
                if event["type"] == "session.waiting":
                    break
        await ws.send_message("not json")
        error = json.loads(await ws.get_message())
        assert error["type"] == "error" and error["error"]["code"] == "invalid_request"
        await client.post(f"/api/v1/sessions/{sid}/kill")
        with trio.fail_after(30):
            while True:
                try:
                    received.append(json.loads(await ws.get_message()))
                except trio_websocket.ConnectionClosed as closed:
                    assert closed.reason.code == 1000
                    break
        nursery.cancel_scope.cancel()
    assert [r["streamIndex"] for r in received] == list(range(len(received)))
    messages = [r["data"]["message"] for r in received if r["type"] == "message.received"]
    assert messages == ["first", "second"]
    assert received[-1]["type"] == "session.failed"


async def test_1000_messages_in_order_under_the_eve_mount(
    client: httpx.AsyncClient, daemon: Daemon, tmp_short: Path
) -> None:
    prompt = "".join(f"{i:04d}" for i in range(1000))  # the fake streams 4 chars per delta
    sid = (await launch(client, tmp_short, harness="claude", prompt=prompt))["id"]
    events: list[dict[str, Any]] = []
    async with trio.open_nursery() as nursery:
        ws = await _connect(nursery, daemon, f"/eve/v1/session/{sid}/ws")
        with trio.fail_after(30):
            while not events or events[-1]["type"] != "session.waiting":
                events.append(json.loads(await ws.get_message()))
        await client.post(f"/api/v1/sessions/{sid}/kill")
        nursery.cancel_scope.cancel()
    assert len(events) > 1000
    assert [e["streamIndex"] for e in events] == list(range(len(events)))
    text = "".join(e["data"]["text"] for e in events if e["type"] == "agent.content.delta")
    assert text == f"Echo: {prompt}"


async def test_websocket_errors_before_upgrade(client: httpx.AsyncClient, tmp_short: Path) -> None:
    missing = await client.get("/api/v1/sessions/ses_nope/ws")
    assert missing.status_code == 404
    sid = (await launch(client, tmp_short, harness="command", command=["true"]))["id"]
    bad = await client.get(f"/api/v1/sessions/{sid}/ws", params={"startIndex": "-1"})
    assert bad.status_code == 400
    plain = await client.get(f"/api/v1/sessions/{sid}/ws")
    assert plain.status_code == 400
    assert plain.headers["upgrade"] == "websocket"
    assert (await client.get("/api/v1/health")).json()["capabilities"]["websocket"] is True
