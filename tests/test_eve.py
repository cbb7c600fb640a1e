"""The eve-compatible API over the socket, driven like eve's own client would."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
import pytest
import trio

from coven_trio.config import Config
from coven_trio.daemon import Daemon

from .eve_util import EVE, create, events, follow_up, read_turn, types
from .sessions_util import argv_log

pytestmark = pytest.mark.usefixtures("fakes_on_path")


@pytest.fixture(autouse=True)
def project(tmp_short: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """eve sessions work in the daemon's working folder when no profile says otherwise."""
    root = tmp_short / "proj"
    root.mkdir()
    monkeypatch.chdir(root)
    return root


async def test_health_and_info(client: httpx.AsyncClient) -> None:
    health = await client.get(f"{EVE}/health")
    assert health.json() == {"ok": True, "status": "ready", "workflowId": "wf_compat"}
    info = (await client.get(f"{EVE}/info")).json()
    # eve's agent-info (version 5, what today's client validates); agent.name for v16
    assert (info["kind"], info["version"], info["agent"]["name"]) == (
        "eve-agent-info",
        5,
        "assistant",
    )
    assert info["agent"]["model"] == {
        "id": "claude",
        "routing": {"kind": "external", "provider": "anthropic"},
    }
    assert info["tools"] == {"dynamic": [], "static": []}
    assert info["connections"] == []


async def test_info_and_agents_from_profiles(home: Path, tmp_short: Path) -> None:
    import coven_trio

    home.mkdir(mode=0o700)
    (home / "agents.toml").write_text(
        '[assistant]\nharness = "claude"\nmodel = "anthropic/claude-sonnet-4-6"\n'
        'systemPrompt = "Be brief."\n'
        '[[assistant.tools]]\nname = "lookup_order"\ndescription = "Look up an order"\n'
        'parameters = { type = "object", required = ["orderId"] }\n'
        '[coder]\nharness = "codex"\n'
    )
    async with coven_trio.open_daemon(home=home, linger_timeout=0.2) as daemon:
        transport = httpx.AsyncHTTPTransport(uds=str(daemon.socket_path))
        async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
            info = (await client.get(f"{EVE}/info")).json()
            assert info["agent"]["name"] == "assistant"
            assert info["agent"]["model"]["id"] == "anthropic/claude-sonnet-4-6"
            [tool] = info["tools"]["static"]
            assert (tool["name"], tool["description"]) == ("lookup_order", "Look up an order")
            assert tool["inputSchema"] == {"type": "object", "required": ["orderId"]}
            [instructions] = info["instructions"]["static"]
            assert (instructions["role"], instructions["content"]) == ("system", "Be brief.")
            unknown = await client.post(f"{EVE}/session", json={"message": "x", "agent": "nope"})
            assert unknown.status_code == 400
            assert unknown.json()["error"]["code"] == "agent_not_found"
            coder = await create(client, message="fix it", agent="coder")
            record = (await client.get(f"/api/v1/sessions/{coder['sessionId']}")).json()
            assert record["harness"] == "codex"
            assistant = await create(client, message="hi")
            await read_turn(client, assistant["sessionId"])
            session = daemon.sessions.get(assistant["sessionId"])
            assert "--append-system-prompt" in session.driver.first_argv("")
            for sid in (coder["sessionId"], assistant["sessionId"]):
                await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_create_stream_follow_up_rotation_and_replay(
    client: httpx.AsyncClient, fakes_on_path: Path
) -> None:
    created = await create(client, message="hello")
    sid, token0 = created["sessionId"], created["continuationToken"]
    assert created["ok"] is True and sid.startswith("ses_") and token0.startswith("tok_")
    turns = [await read_turn(client, sid)]
    first = events(turns[0])
    assert [e["streamIndex"] for e in first] == list(range(len(first)))
    assert types(turns[0])[:3] == ["session.started", "turn.started", "message.received"]
    assert first[0]["data"]["agent"] == "assistant"
    assert first[2]["data"] == {"message": "hello", "sequence": 0, "turnId": "turn_0"}
    assert types(turns[0])[-2:] == ["turn.completed", "session.waiting"]
    assert first[-1]["data"]["continuationToken"] == token0
    assert "--permission-prompt-tool" in argv_log(fakes_on_path)[0]["argv"]

    tokens = [token0]
    for n, text in enumerate(["second", "third"], start=1):
        response = await follow_up(client, sid, tokens[-1], message=text)
        assert response.status_code == 200
        body = response.json()
        assert body["ok"] is True and body["sessionId"] == sid
        assert body["continuationToken"] not in tokens  # rotated, never reused
        tokens.append(body["continuationToken"])
        count = sum(len(events(t)) for t in turns)
        turns.append(await read_turn(client, sid, start=count))
        later = events(turns[-1])
        assert later[0]["type"] == "turn.started"
        assert later[0]["data"] == {"sequence": n, "turnId": f"turn_{n}"}
        assert later[-1]["data"]["continuationToken"] == tokens[-1]
        stale = await follow_up(client, sid, tokens[-2], message="old token")
        assert stale.status_code == 409
        assert stale.json()["error"]["code"] == "stale_continuation_token"

    # Replay from 0 is byte-identical to what the turn readers received, in order.
    async with client.stream("GET", f"{EVE}/session/{sid}/stream") as replay:
        data = b""
        async for chunk in replay.aiter_raw():
            data += chunk
            if data.count(b"\n") >= sum(t.count(b"\n") for t in turns):
                break
    assert data == b"".join(turns)
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_stream_headers_and_start_index_validation(client: httpx.AsyncClient) -> None:
    sid = (await create(client, message="hi"))["sessionId"]
    await read_turn(client, sid)
    async with client.stream("GET", f"{EVE}/session/{sid}/stream") as response:
        assert response.headers["content-type"] == "application/x-ndjson; charset=utf-8"
        assert response.headers["x-eve-stream-format"] == "ndjson"
        assert response.headers["x-eve-stream-version"] == "16"
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-eve-session-id"] == sid
        assert response.headers["transfer-encoding"] == "chunked"
    for bad in ("abc", "1.5", "", " 7", "12abc"):
        response = await client.get(f"{EVE}/session/{sid}/stream", params={"startIndex": bad})
        assert response.status_code == 400, bad
        assert response.json()["error"]["code"] == "invalid_start_index"
    missing = await client.get(f"{EVE}/session/ses_nope/stream")
    assert missing.status_code == 404
    assert missing.json() == {
        "ok": False,
        "code": "session_not_found",  # top level, for today's client
        "error": {
            "code": "session_not_found",
            "message": "Session ses_nope not found",
            "details": {"sessionId": "ses_nope"},
        },
    }
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_live_tailer_sees_turns_and_past_the_end_waits(client: httpx.AsyncClient) -> None:
    created = await create(client, message="one")
    sid, token = created["sessionId"], created["continuationToken"]
    first = await read_turn(client, sid)
    end = len(events(first))
    live: list[dict[str, object]] = []
    ahead: list[dict[str, object]] = []

    async def tail(start: int, into: list[dict[str, object]]) -> None:
        async with client.stream(
            "GET", f"{EVE}/session/{sid}/stream", params={"startIndex": str(start)}
        ) as response:
            async for line in response.aiter_lines():
                if line.strip():
                    into.append(json.loads(line))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(tail, end, live)
        nursery.start_soon(tail, end + 3, ahead)  # past the end: waits, no error
        await trio.sleep(0.3)
        assert live == [] and ahead == []
        response = await follow_up(client, sid, token, message="two")
        assert response.status_code == 200
        with trio.fail_after(30):
            while not live or live[-1]["type"] != "session.waiting":
                await trio.sleep(0.01)
        await client.post(f"/api/v1/sessions/{sid}/kill")
    assert live[0]["type"] == "turn.started"
    assert live[0]["streamIndex"] == end
    assert ahead[0]["streamIndex"] == end + 3
    assert live[3:][: len(ahead)] == ahead[: len(live) - 3]
    assert live[-1]["type"] == "session.failed"  # closed after the terminal entry


async def test_follow_up_status_codes(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_short: Path
) -> None:
    # the turn runs until the gate opens: the mid-turn answers are mid-turn on any machine
    monkeypatch.setenv("FAKE_HARNESS_MODE", "gate")
    monkeypatch.setenv("FAKE_GATE", str(tmp_short / "gate"))
    created = await create(client, message="a slow answer that streams for a while")
    sid, token = created["sessionId"], created["continuationToken"]

    async def post(body: object, **headers: str) -> httpx.Response:
        return await client.post(f"{EVE}/session/{sid}", json=body, headers=headers)

    cases: list[tuple[object, int, str]] = [
        ([1], 400, "invalid_body"),
        ({"continuationToken": "", "message": "x"}, 400, "missing_continuation_token"),
        ({"message": "x", "turnPolicy": "later"}, 400, "invalid_body"),
        ({"continuationToken": token}, 400, "missing_input"),
        ({"continuationToken": token, "message": 5}, 400, "invalid_body"),
        ({"continuationToken": token, "inputResponses": []}, 400, "invalid_input_responses"),
        (
            {"continuationToken": token, "inputResponses": [{"requestId": "r", "x": 1}]},
            400,
            "invalid_input_responses",
        ),
        ({"continuationToken": "tok_old", "message": "x"}, 409, "stale_continuation_token"),
        ({"continuationToken": token, "message": "x"}, 409, "turn_active"),
    ]
    for body, status, code in cases:
        response = await post(body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), body
    bad_json = await client.post(f"{EVE}/session/{sid}", content=b"{nope")
    assert bad_json.json()["error"]["code"] == "invalid_json"
    mismatch = await post(
        {"continuationToken": token, "message": "x"}, authorization="Bearer tok_other"
    )
    assert mismatch.json()["error"]["code"] == "continuation_token_mismatch"
    # An unknown session: the seed's client (a token) gets the seed's 404, today's 409.
    unknown = await client.post(
        f"{EVE}/session/ses_nope", json={"continuationToken": token, "message": "x"}
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "session_not_found")
    tokenless = await client.post(f"{EVE}/session/ses_nope", json={"message": "x"})
    assert (tokenless.status_code, tokenless.json()["code"]) == (409, "session_not_active")
    (tmp_short / "gate").touch()
    await read_turn(client, sid)
    matching = await post(
        {"continuationToken": token, "message": "now"}, authorization=f"Bearer {token}"
    )
    assert matching.status_code == 200
    await client.post(f"/api/v1/sessions/{sid}/kill")
    with trio.fail_after(30):
        while (await client.get(f"/api/v1/sessions/{sid}")).json()["status"] != "killed":
            await trio.sleep(0.02)
    gone = await post({"continuationToken": matching.json()["continuationToken"], "message": "x"})
    assert (gone.status_code, gone.json()["code"]) == (410, "session_terminal")
    assert gone.json()["error"]["code"] == "session_terminal"  # the v16 envelope too


async def test_a_follow_up_to_an_ended_session_is_410_for_the_seed_and_409_for_today(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "one_turn")
    created = await create(client, message="just once")
    sid = created["sessionId"]
    async with client.stream("GET", f"{EVE}/session/{sid}/stream") as response:
        lines = [line async for line in response.aiter_lines() if line.strip()]
    assert json.loads(lines[-1])["type"] == "session.completed"
    assert "data" not in json.loads(lines[-1])
    # a stream past the end of a terminal session: replay nothing, then EOF
    async with client.stream(
        "GET", f"{EVE}/session/{sid}/stream", params={"startIndex": "999"}
    ) as response:
        assert [line async for line in response.aiter_lines()] == []
    response = await follow_up(client, sid, created["continuationToken"], message="more")
    assert (response.status_code, response.json()["code"]) == (410, "session_terminal")
    response = await send(client, sid, "more")  # no token says nothing: the session's
    assert (response.status_code, response.json()["code"]) == (410, "session_terminal")


async def test_create_validation(client: httpx.AsyncClient) -> None:
    cases: list[tuple[bytes, str]] = [
        (b"{nope", "invalid_json"),
        (b"[]", "invalid_body"),
        (b"null", "invalid_body"),
        (b"{}", "missing_message"),
        (b'{"message":""}', "missing_message"),
        (b'{"message":[]}', "missing_message"),
        (b'{"message":[{"type":"text","text":""}]}', "invalid_body"),
        (b'{"message":[{"type":"image"}]}', "invalid_body"),
        (b'{"message":"x","clientContext":5}', "invalid_body"),
        (b'{"message":"x","outputSchema":"no"}', "invalid_body"),
        (b'{"message":"x","outputSchema":{"type":5}}', "invalid_body"),
        (b'{"message":"x","outputSchema":{"pattern":"("}}', "invalid_body"),
    ]
    for raw, code in cases:
        response = await client.post(f"{EVE}/session", content=raw)
        assert response.status_code == 400, raw
        assert response.json()["error"]["code"] == code, raw
    assert (await client.get("/api/v1/sessions")).json() == []


async def test_client_context_reaches_the_harness(client: httpx.AsyncClient) -> None:
    created = await create(
        client,
        message=[{"type": "text", "text": "hello"}, {"type": "text", "text": "there"}],
        clientContext={"userId": "u-1"},
    )
    turn = events(await read_turn(client, created["sessionId"]))
    received = next(e for e in turn if e["type"] == "message.received")
    assert received["data"]["message"] == "hello\nthere"
    answer = next(e for e in turn if e["type"] == "message.appended")["data"]["content"]
    assert answer.startswith("Echo: Client context:\n")
    assert '"userId": "u-1"' in answer and answer.endswith("hello\nthere")
    await client.post(f"/api/v1/sessions/{created['sessionId']}/kill")


SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}


async def test_output_schema_fulfilled(client: httpx.AsyncClient) -> None:
    created = await create(client, message="what is it?", outputSchema=SCHEMA)
    turn = events(await read_turn(client, created["sessionId"]))
    assert [e["type"] for e in turn][-3:] == [
        "result.completed",
        "turn.completed",
        "session.waiting",
    ]
    assert turn[-3]["data"] == {"result": {"answer": "what is it?"}, "turnId": "turn_0"}
    await client.post(f"/api/v1/sessions/{created['sessionId']}/kill")


async def test_output_schema_not_fulfilled(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "bad_json")
    created = await create(client, message="what is it?", outputSchema=SCHEMA)
    turn = events(await read_turn(client, created["sessionId"]))
    assert [e["type"] for e in turn][-2:] == ["turn.failed", "session.waiting"]
    failed = turn[-2]["data"]
    assert failed["code"] == "OUTPUT_SCHEMA_NOT_FULFILLED"
    assert failed["details"]["errors"] == ["no JSON in the answer"]
    assert "result.completed" not in [e["type"] for e in turn]
    # the session stays usable; the schema applied to that turn only
    response = await follow_up(
        client, created["sessionId"], created["continuationToken"], message="plain now"
    )
    assert response.status_code == 200
    await client.post(f"/api/v1/sessions/{created['sessionId']}/kill")


@pytest.mark.parametrize("option", ["approve", "deny"])
async def test_hitl_round_trip(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, option: str
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "permission")
    created = await create(client, message="list files")
    sid = created["sessionId"]
    parked = await read_turn(client, sid)
    assert types(parked)[-3:] == ["input.requested", "turn.completed", "session.waiting"]
    [request] = events(parked)[-3]["data"]["requests"]
    assert request["requestId"] == "req_1"
    assert request["action"]["toolName"] == "Bash"
    assert request["display"] == "confirmation"
    assert [o["id"] for o in request["options"]] == ["approve", "deny"]
    unknown = await follow_up(
        client,
        sid,
        created["continuationToken"],
        inputResponses=[{"requestId": "nope", "optionId": "approve"}],
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "invalid_input_responses"
    response = await follow_up(
        client,
        sid,
        created["continuationToken"],
        inputResponses=[{"requestId": "req_1", "optionId": option}],
    )
    assert response.status_code == 200
    resumed = events(await read_turn(client, sid, start=len(events(parked))))
    kinds = [e["type"] for e in resumed]
    assert "message.received" not in kinds
    assert kinds[0] == "turn.started"
    # exactly one result for the call, the CLI's own, in the resumed turn
    [result] = [e["data"] for e in resumed if e["type"] == "action.result"]
    assert result["result"]["callId"] == request["action"]["callId"]
    assert result["turnId"] == resumed[0]["data"]["turnId"]
    if option == "approve":
        assert result["status"] == "completed"
        answer = "(allowed)"
    else:
        assert result["status"] == "rejected"
        assert result["error"]["code"] == "TOOL_EXECUTION_DENIED"
        answer = "(denied)"
    final = [e["data"]["content"] for e in resumed if e["type"] == "message.appended"][-1]
    assert final.endswith(answer)
    assert kinds[-2:] == ["turn.completed", "session.waiting"]
    await client.post(f"/api/v1/sessions/{sid}/kill")


@pytest.mark.parametrize("daemon_options", [{"eve_heartbeat": 0.2}])
async def test_idle_stream_gets_heartbeats(client: httpx.AsyncClient, daemon: Daemon) -> None:
    created = await create(client, message="hi")
    sid = created["sessionId"]
    count = len(events(await read_turn(client, sid)))
    async with client.stream(
        "GET", f"{EVE}/session/{sid}/stream", params={"startIndex": str(count)}
    ) as response:
        with trio.fail_after(30):
            chunk = await response.aiter_raw().__anext__()
    assert chunk == b"\n"
    await client.post(f"/api/v1/sessions/{sid}/kill")


@pytest.mark.parametrize("daemon_options", [{"eve_mount": "/agents/eve/v1"}])
async def test_configurable_mount(client: httpx.AsyncClient) -> None:
    assert (await client.get("/agents/eve/v1/health")).status_code == 200
    assert (await client.get("/eve/v1/health")).status_code == 404


async def test_disconnect_cancels_the_tailer(client: httpx.AsyncClient, daemon: Daemon) -> None:
    sid = (await create(client, message="hi"))["sessionId"]
    await read_turn(client, sid)
    journal = daemon.journal(sid)
    for _ in range(20):
        await read_turn(client, sid)  # each reads to the boundary and hangs up
    await trio.testing.wait_all_tasks_blocked()
    # no tailer is left parked on the journal
    wakeup = journal._wakeup
    assert wakeup is None or wakeup.statistics().tasks_waiting == 0
    await client.post(f"/api/v1/sessions/{sid}/kill")


@pytest.mark.parametrize("daemon_options", [{"eve_mount": "custom/eve/"}])
async def test_a_mount_without_a_leading_slash_is_normalised(client: httpx.AsyncClient) -> None:
    assert (await client.get("/custom/eve/health")).status_code == 200


@pytest.mark.parametrize("mount", ["", "/", "/api/v1/eve", "/with space", "/q?x=1", "/{id}"])
def test_an_unroutable_mount_is_refused(mount: str) -> None:
    with pytest.raises(ValueError, match="invalid eve mount"):
        Config(eve_mount=mount)


@pytest.mark.parametrize("start", ["9" * 5000, "²", "\u0661", "1e3", "--1"])
async def test_garbage_start_index_is_400_on_stream_and_websocket(
    client: httpx.AsyncClient, start: str
) -> None:
    sid = (await create(client, message="hi"))["sessionId"]
    for path in (f"{EVE}/session/{sid}/stream", f"{EVE}/session/{sid}/ws"):
        response = await client.get(path, params={"startIndex": start})
        assert response.status_code == 400, path
        assert response.json()["error"]["code"] == "invalid_start_index"
    await client.post(f"/api/v1/sessions/{sid}/kill")


@pytest.fixture
def coder(home: Path) -> Path:
    """A codex agent profile (written before the daemon starts)."""
    home.mkdir(mode=0o700)
    (home / "agents.toml").write_text('[assistant]\nharness = "codex"\n')
    return home


async def send(client: httpx.AsyncClient, sid: str, message: str) -> httpx.Response:
    """Today's client's send: no continuation token."""
    return await client.post(f"{EVE}/session/{sid}", json={"message": message})


async def test_cancel_stops_a_per_turn_process_and_the_session_goes_on(
    coder: Path, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_short: Path
) -> None:
    # the turn goes on until cancelled (a gate nobody opens), however slow the machine
    monkeypatch.setenv("FAKE_HARNESS_MODE", "gate")
    monkeypatch.setenv("FAKE_GATE", str(tmp_short / "never"))
    created = await create(client, message="take your time")
    sid = created["sessionId"]
    with trio.fail_after(30):  # until codex has started its turn
        while "agent.start" not in (await client.get(f"/api/v1/events?sessionId={sid}")).text:
            await trio.sleep(0.05)
    cancelled = await client.post(f"{EVE}/session/{sid}/cancel", json={})
    assert cancelled.json() == {"ok": True, "sessionId": sid, "status": "accepted"}
    turn = types(await read_turn(client, sid))
    assert turn[-3:] == ["exit", "turn.cancelled", "session.waiting"]
    again = await client.post(f"{EVE}/session/{sid}/cancel", json={})
    assert again.json() == {"ok": True, "status": "no_active_turn"}
    monkeypatch.setenv("FAKE_HARNESS_MODE", "normal")
    assert (await send(client, sid, "after")).status_code == 200
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_cancel_reaches_the_harness_even_where_the_daemon_ignores_interrupts(
    coder: Path, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_short: Path
) -> None:
    """A daemon started where ^C is ignored (a script's ``cmd &``): its harnesses must not
    inherit that, or a cancel (SIGINT) never stops a turn."""
    monkeypatch.setenv("FAKE_HARNESS_MODE", "gate")
    monkeypatch.setenv("FAKE_GATE", str(tmp_short / "never"))
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        created = await create(client, message="take your time")
    finally:
        signal.signal(signal.SIGINT, previous)
    sid = created["sessionId"]
    with trio.fail_after(30):  # until codex has started its turn
        while "agent.start" not in (await client.get(f"/api/v1/events?sessionId={sid}")).text:
            await trio.sleep(0.05)
    assert (await client.post(f"{EVE}/session/{sid}/cancel", json={})).json()["ok"]
    with trio.fail_after(30):  # without the reset the turn never ends
        turn = types(await read_turn(client, sid))
    assert turn[-3:] == ["exit", "turn.cancelled", "session.waiting"]
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_clear_starts_a_fresh_thread_and_compact_is_refused_for_codex(
    coder: Path,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    tmp_short: Path,
    fakes_on_path: Path,
) -> None:
    monkeypatch.setenv("FAKE_STATE_DIR", str(tmp_short / "threads"))
    created = await create(client, message="one")
    sid = created["sessionId"]
    await read_turn(client, sid)
    compact = await client.post(f"{EVE}/session/{sid}/compact")
    assert compact.status_code == 400 and compact.json()["code"] == "invalid_request"
    assert "cannot compact" in compact.json()["error"]["message"]
    cleared = await client.post(f"{EVE}/session/{sid}/clear")
    assert cleared.json() == {"ok": True, "sessionId": sid, "status": "accepted"}
    start = len(events(await read_turn(client, sid)))
    # As eve's: the context is cleared, then the session waits (a reader stops there).
    after_clear = events(await read_turn(client, sid, start=start))
    assert [e["type"] for e in after_clear] == ["context.cleared", "session.waiting"]
    assert after_clear[0]["data"]["turnId"] == "turn_1"  # the next turn's
    response = await send(client, sid, "two")
    assert response.status_code == 200 and response.json()["deliveryId"].startswith("dlv_")
    turn = events(await read_turn(client, sid, start=start + 2))
    assert turn[0]["type"] == "turn.started"
    answer = next(e for e in turn if e["type"] == "message.appended")["data"]["content"]
    assert answer == "Echo: two"  # not "remembering": a new thread
    calls = [c["argv"] for c in argv_log(fakes_on_path)]
    assert "resume" not in calls[-1]
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_prewarm_then_the_first_message_is_turn_0(
    client: httpx.AsyncClient, fakes_on_path: Path
) -> None:
    created = await client.post(f"{EVE}/session")
    assert created.status_code == 202
    sid = created.json()["sessionId"]
    assert types(await read_turn(client, sid)) == ["session.started", "session.waiting"]
    assert (await send(client, sid, "hello")).status_code == 200
    turn = events(await read_turn(client, sid, start=2))  # a prewarmed session: today's
    # (the process's own start-up lines may come first: it started before any turn)
    started = next(e for e in turn if e["type"] == "turn.started")
    assert started["data"]["turnId"] == "turn_0"
    assert started["meta"]["deliveryIds"][0].startswith("dlv_")
    await client.post(f"/api/v1/sessions/{sid}/kill")
