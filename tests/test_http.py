"""The HTTP layer end to end: the real daemon on its real Unix socket. The protocol's
edge cases and timeouts are in test_http_protocol.py, on in-memory streams."""

from __future__ import annotations

import os
import stat

import httpx

from coven_trio.daemon import Daemon

from .rawhttp import exchange, get


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
    assert caps["websocket"] is True
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


async def test_socket_and_home_modes(daemon: Daemon) -> None:
    assert stat.S_IMODE(os.stat(daemon.socket_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(daemon.config.home).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(daemon.config.home / "daemon.json").st_mode) == 0o600
