"""The web listener's checks over raw HTTP: credentials, Host, Origin, scopes, the
management routes, revocation, logs, and what may not start."""

from __future__ import annotations

import functools
import json
import logging
import os
import re
from pathlib import Path

import httpx
import pytest
import trio

from coven_trio.daemon import Daemon
from coven_trio.errors import StartupError
from coven_trio.web import Scope, WebListener, WebManager, WebOptions, serve_web

from ..sessions_util import launch, wait_for_kind
from .raw import Web

pytestmark = pytest.mark.timeout(30)


def _concrete(pattern: re.Pattern[str]) -> str:
    """A path the route's pattern matches (every ``{param}`` as ``x``)."""
    path = re.sub(r"\(\?P<\w+>\[\^/\]\+\)", "x", pattern.pattern.strip("^$"))
    return path.replace("\\", "")


def _routes(daemon: Daemon) -> list[tuple[str, str]]:
    assert daemon.router is not None
    daemon.router.load_all()  # what loads with a first request is served too
    return sorted({(r.method, _concrete(r.pattern)) for r in daemon.router._routes})


async def test_every_route_without_a_credential_is_401(
    daemon: Daemon, manager: WebManager, anonymous: Web
) -> None:
    routes = _routes(daemon)
    assert ("GET", "/api/v1/sessions") in routes and ("POST", "/api/v1/web/pair") in routes
    routes += [("GET", "/nowhere"), ("GET", "/api/v2/health"), ("POST", "/api/v1/sessions/x/kill")]
    for method, path in routes:
        answer = await anonymous.send(method, path, headers={"origin": anonymous.origin})
        assert answer.status == 401, (method, path, answer.body)
        assert answer.json()["error"]["code"] == "web.unauthorized"
        assert answer.headers["www-authenticate"].startswith("Bearer")


async def test_a_wrong_or_stale_credential_is_401(web: WebListener, daemon: Daemon) -> None:
    for token in ["nope", "cvw_" + "A" * 43, "cvs_whatever", "cvd.dev_000000000000.x"]:
        answer = await Web(web, token=token).get("/api/v1/sessions")
        assert answer.status == 401, token
    # another daemon start's token: the secret is per start
    async with trio.open_nursery() as nursery:
        other: WebListener = await nursery.start(functools.partial(serve_web, daemon, WebOptions()))
        stale = other.state.launch.token(Scope.CONTROL)
        assert (await Web(web, token=stale).get("/api/v1/sessions")).status == 401
        assert (await Web(other, token=stale).get("/api/v1/sessions")).status == 200
        other.stop()


async def test_the_token_is_not_taken_from_a_query_string(web: WebListener, anonymous: Web) -> None:
    token = web.state.launch.token(Scope.CONTROL)
    assert (await anonymous.get(f"/api/v1/sessions?token={token}")).status == 401
    assert (await anonymous.get(f"/api/v1/sessions?access_token={token}")).status == 401


async def test_login_exchanges_the_token_for_a_strict_httponly_cookie(
    web: WebListener, anonymous: Web
) -> None:
    token = web.state.launch.token(Scope.CONTROL)
    answer = await anonymous.post("/_/login", {"token": token})
    assert answer.status == 200 and answer.json() == {"ok": True, "scope": "control"}
    cookie = answer.headers["set-cookie"]
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    name_value = cookie.split(";")[0]
    assert token not in name_value  # the cookie is a login of its own, not the token
    browser = Web(web, cookie=name_value)
    assert (await browser.get("/api/v1/sessions")).status == 200
    who = (await browser.get("/_/whoami")).json()
    assert who["scope"] == "control" and who["device"] is None
    assert (await browser.post("/_/logout")).status == 200
    assert (await browser.get("/api/v1/sessions")).status == 401
    assert (await anonymous.post("/_/login", {"token": token[:-1] + "x"})).status == 401


async def test_a_wrong_host_is_403(control: Web) -> None:
    port = control.listener.port
    for host in [f"evil.example:{port}", "127.0.0.1:1", f"localhost.evil.example:{port}", ""]:
        answer = await control.get("/api/v1/sessions", headers={"host": host})
        assert answer.status == 403, host
        assert answer.json()["error"]["code"] == "web.host"
    page = await control.get("/", headers={"host": f"rebound.example:{port}"})
    assert page.status == 403  # the page itself too: nothing is served to a rebound name
    for host in [f"localhost:{port}", f"127.0.0.1:{port}"]:
        assert (await control.get("/api/v1/sessions", headers={"host": host})).status == 200


async def test_a_cross_origin_state_change_is_403(control: Web, tmp_short: Path) -> None:
    body = {"projectRoot": str(tmp_short), "harness": "command", "command": ["true"]}
    for headers in [
        {"origin": "http://evil.example"},
        {"origin": f"http://evil.example:{control.listener.port}"},
        {"origin": "null"},
        {"origin": control.origin, "sec-fetch-site": "cross-site"},
    ]:
        answer = await control.send("POST", "/api/v1/sessions", headers=headers, json_body=body)
        assert answer.status == 403, headers
        assert answer.json()["error"]["code"] == "web.origin"
    # a browser's cookie without an Origin: refused too (browsers always send one)
    login = await Web(control.listener).post("/_/login", {"token": control.token})
    browser = Web(control.listener, cookie=login.headers["set-cookie"].split(";")[0])
    answer = await browser.send("POST", "/api/v1/sessions", json_body=body)
    assert answer.status == 403
    # same origin, or a bearer client that sends none: it reaches the daemon
    answer = await control.post("/api/v1/sessions", body)
    assert answer.status == 201, answer.body
    answer = await control.send("POST", "/api/v1/sessions", json_body=body)
    assert answer.status == 201, answer.body
    # login from another origin is refused as well (login CSRF)
    answer = await Web(control.listener).send(
        "POST", "/_/login", headers={"origin": "http://evil.example"}, json_body={"token": "x"}
    )
    assert answer.status == 403


async def test_observe_scope_reads_but_cannot_change_anything(
    observe: Web, control: Web, tmp_short: Path
) -> None:
    body = {"projectRoot": str(tmp_short), "harness": "command", "command": ["sleep", "30"]}
    launched = await control.post("/api/v1/sessions", body)
    sid = launched.json()["id"]
    assert (await observe.get("/api/v1/sessions")).status == 200
    assert (await observe.get(f"/api/v1/sessions/{sid}")).status == 200
    for path, sent in [
        ("/api/v1/sessions", body),
        (f"/api/v1/sessions/{sid}/input", {"data": "x"}),
        (f"/api/v1/sessions/{sid}/kill", {}),
        (f"/eve/v1/session/{sid}/cancel", {}),
        ("/api/v1/actions", {"action": "coven.sessions.killAll"}),
    ]:
        answer = await observe.post(path, sent)
        assert answer.status == 403, path
        assert answer.json()["error"]["code"] == "web.scope"
    upgrade = {
        "upgrade": "websocket",
        "connection": "Upgrade",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
        "origin": observe.origin,
    }
    answer = await observe.get(f"/api/v1/sessions/{sid}/ws", headers=upgrade)
    assert answer.status == 403  # a terminal takes input: control only
    assert (await control.post(f"/api/v1/sessions/{sid}/kill", {})).status == 202


@pytest.mark.parametrize("web_options", [WebOptions(observe_only=True)])
async def test_an_observe_only_listener_caps_every_credential(
    control: Web, tmp_short: Path
) -> None:
    assert (await control.get("/api/v1/sessions")).status == 200
    body = {"projectRoot": str(tmp_short), "harness": "command", "command": ["true"]}
    assert (await control.post("/api/v1/sessions", body)).status == 403
    assert (await control.get("/_/whoami")).json()["scope"] == "observe"


async def test_management_routes_answer_only_on_the_unix_socket(
    manager: WebManager, control: Web, client: httpx.AsyncClient
) -> None:
    for method, path in [
        ("GET", "/api/v1/web"),
        ("POST", "/api/v1/web/listen"),
        ("POST", "/api/v1/web/pair"),
        ("GET", "/api/v1/web/devices"),
        ("POST", "/api/v1/web/devices/dev_x/revoke"),
        ("DELETE", "/api/v1/web/devices/dev_x"),
        ("GET", "/web"),
        ("POST", "/api/v1/internal/lifecycle/shutdown"),
        ("POST", "/internal/lifecycle/shutdown"),
    ]:
        answer = await control.send(method, path, headers={"origin": control.origin})
        assert answer.status == 404, (method, path)
    assert (await client.get("/api/v1/web")).json() == {"listening": False}
    assert (await client.get("/api/v1/web/devices")).json() == {"devices": []}


async def test_failed_attempts_are_rate_limited(web: WebListener, anonymous: Web) -> None:
    wrong = Web(web, token="cvw_wrong")
    statuses = [(await wrong.get("/api/v1/health")).status for _ in range(12)]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
    answer = await wrong.get("/api/v1/health")
    assert int(answer.headers["retry-after"]) > 0
    # a valid credential still works from the same address: no lockout of the owner
    good = Web(web, token=web.state.launch.token(Scope.CONTROL))
    assert (await good.get("/api/v1/health")).status == 200
    # pairing codes (the only short secret) are not even checked while blocked
    web.state.pairing.open(Scope.CONTROL)
    assert web.state.pairing.window is not None
    answer = await anonymous.post("/_/pair", {"code": web.state.pairing.window.code})
    assert answer.status == 429


async def test_a_non_loopback_bind_without_tls_is_refused_at_start(
    daemon: Daemon, manager: WebManager, client: httpx.AsyncClient
) -> None:
    for options in [WebOptions(host="0.0.0.0", tls=False), WebOptions(host="::", tls=False)]:
        with pytest.raises(StartupError, match="without TLS"), trio.fail_after(5):
            await serve_web(daemon, options)  # refused before anything is bound
    answer = await client.post("/api/v1/web/listen", json={"host": "0.0.0.0", "tls": False})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "web.listen_failed"
    assert "without TLS" in answer.json()["error"]["message"]
    assert (await client.get("/api/v1/web")).json() == {"listening": False}


async def test_a_body_over_the_sockets_limit_is_413(daemon: Daemon, control: Web) -> None:
    big = b"x" * (daemon.config.max_body_bytes + 1)
    answer = await control.send(
        "POST", "/api/v1/sessions", headers={"origin": control.origin}, body=big
    )
    assert answer.status == 413


@pytest.mark.parametrize("daemon_options", [{"head_timeout": 0.5}])
async def test_a_slow_head_is_cut_off(control: Web) -> None:
    stream = await control.connect()
    async with stream:
        await stream.send_all(b"GET /api/v1/health HTTP/1.1\r\nhost: x")
        with trio.fail_after(5):
            data = b""
            while chunk := await stream.receive_some(65536):
                data += chunk
    assert data.startswith(b"HTTP/1.1 408")


@pytest.mark.parametrize("web_options", [WebOptions(max_connections=2)])
async def test_connections_past_the_cap_get_503(control: Web) -> None:
    held = [await control.connect() for _ in range(2)]
    try:
        await trio.sleep(0.1)  # both accepted
        answer = await control.get("/api/v1/health")
        assert answer.status == 503 and answer.headers["retry-after"] == "1"
    finally:
        for stream in held:
            await stream.aclose()
    with trio.fail_after(5):
        while (await control.get("/api/v1/health")).status != 200:
            await trio.sleep(0.05)


async def test_the_page_is_public_and_locked_down(anonymous: Web) -> None:
    page = await anonymous.get("/")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self';" in csp
    assert "unsafe-inline" not in csp.replace("style-src-attr 'unsafe-inline'", "")
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce is not None and nonce[1].encode() in page.body
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    html = page.body.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # no inline script
    assert not re.search(r"\son\w+=", html)  # no inline handlers
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing from elsewhere
    second = await anonymous.get("/")
    assert second.headers["content-security-policy"] != csp  # a fresh nonce per load
    assert (await anonymous.get("/static/app.js")).status == 200
    assert (await anonymous.get("/static/../_auth.py")).status == 404
    assert (await anonymous.get("/static/index.html")).status == 404


async def test_a_revoked_devices_open_stream_ends(
    daemon: Daemon,
    manager: WebManager,
    client: httpx.AsyncClient,
    tmp_short: Path,
    fakes_on_path: Path,
) -> None:
    answer = await client.post("/api/v1/web/listen", json={})
    assert answer.status_code == 201
    listener = manager.listener
    assert listener is not None
    paired = await client.post("/api/v1/web/pair", json={"name": "phone"})
    code = paired.json()["code"]
    assert paired.json()["url"].endswith(f"#pair={code.replace('-', '')}")
    claim = await Web(listener).post("/_/pair", {"code": code.lower(), "bearer": True})
    assert claim.status == 200, claim.body
    device_id, token = claim.json()["device"]["id"], claim.json()["token"]
    assert "max-age=" in claim.headers["set-cookie"].lower()
    again = await Web(listener).post("/_/pair", {"code": code})
    assert again.status == 401  # one code, one device
    devices_file = Path(daemon.config.home) / "web-devices.json"
    assert os.stat(devices_file).st_mode & 0o777 == 0o600
    assert token not in devices_file.read_text()
    [listed] = (await client.get("/api/v1/web/devices")).json()["devices"]
    assert listed["id"] == device_id and listed["name"] == "phone"
    sid = (await launch(client, tmp_short, harness="claude", prompt="hello"))["id"]
    await wait_for_kind(client, sid, "session.waiting")
    phone = Web(listener, token=token)
    async with phone.stream(f"/api/v1/events?sessionId={sid}&follow=1") as (status, chunks):
        assert status == 200
        first = await chunks.__anext__()
        assert b"session.started" in first
        revoked = await client.post(f"/api/v1/web/devices/{device_id}/revoke")
        assert revoked.status_code == 200
        with trio.fail_after(5):
            rest = [chunk async for chunk in chunks]
    assert b"session.completed" not in b"".join(rest)  # it ended because of the revocation
    assert (await phone.get("/api/v1/sessions")).status == 401
    assert (await client.get("/api/v1/web/devices")).json() == {"devices": []}
    assert (await client.post(f"/api/v1/web/devices/{device_id}/revoke")).status_code == 404
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_the_token_appears_in_no_log_line(
    daemon: Daemon,
    manager: WebManager,
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = (await client.post("/api/v1/web/listen", json={})).json()
    listener = manager.listener
    assert listener is not None
    token = answer["loginUrl"].partition("#token=")[2]
    assert token == listener.state.launch.token(Scope.CONTROL)
    browser = Web(listener)
    login = await browser.post("/_/login", {"token": token})
    cookie = login.headers["set-cookie"].split(";")[0]
    secrets = [token, answer["observeUrl"].partition("#token=")[2], cookie.partition("=")[2]]
    await Web(listener, token=token).get("/api/v1/sessions")
    await Web(listener, token=token).get("/api/v1/sessions/nope/events?follow=1")
    await Web(listener, token=token + "x").get("/api/v1/sessions")
    await Web(listener, cookie=cookie).post("/api/v1/sessions", {"bad": True})
    pair = (await client.post("/api/v1/web/pair", json={})).json()
    claim = await browser.post("/_/pair", {"code": pair["code"], "bearer": True})
    secrets += [claim.json()["token"], pair["code"], pair["code"].replace("-", "")]
    await client.post(f"/api/v1/web/devices/{claim.json()['device']['id']}/revoke")
    await client.post("/api/v1/web/stop")
    lines = [record.getMessage() for record in caplog.records]
    lines += [json.dumps(record.args, default=str) for record in caplog.records]
    assert any("web listener" in line for line in lines)  # the listener did log
    for secret in secrets:
        assert not [line for line in lines if secret in line], secret


async def test_a_tls_listener_makes_its_certificate_once(daemon: Daemon) -> None:
    home = Path(daemon.config.home)
    async with trio.open_nursery() as nursery:
        first: WebListener = await nursery.start(
            functools.partial(serve_web, daemon, WebOptions(tls=True))
        )
        assert first.tls and first.fingerprint is not None
        assert os.stat(home / "web-key.pem").st_mode & 0o777 == 0o600
        web = Web(first, token=first.state.launch.token(Scope.CONTROL))
        stream = await web.connect()
        assert isinstance(stream, trio.SSLStream)
        der = stream.getpeercert(binary_form=True)
        await stream.aclose()
        import hashlib

        served = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
        assert served == first.fingerprint
        assert (await web.get("/api/v1/health")).status == 200
        login = await Web(first).post("/_/login", {"token": web.token})
        cookie = login.headers["set-cookie"]
        assert cookie.startswith(f"__Host-coven_{first.port}=") and "Secure" in cookie
        first.stop()
        second: WebListener = await nursery.start(
            functools.partial(serve_web, daemon, WebOptions(host="0.0.0.0"))
        )
        assert second.tls and second.fingerprint == first.fingerprint  # made once
        own = Web(second, token=second.state.launch.token(Scope.CONTROL))
        assert (await own.get("/api/v1/health")).status == 200  # from this machine
        assert (await Web(second, token=web.token).get("/api/v1/health")).status == 401
        second.stop()


@pytest.mark.parametrize("daemon_options", [{"head_timeout": 0.5}])
@pytest.mark.parametrize("web_options", [WebOptions(tls=True)])
async def test_a_tls_handshake_that_never_comes_is_cut_off(web: WebListener) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", web.port)  # TCP, then silence
    async with stream:
        with trio.fail_after(5):
            assert await stream.receive_some(65536) == b""  # closed by the listener
    with trio.fail_after(5):
        while web.connections:
            await trio.sleep(0.01)  # and its connection is gone, not parked
