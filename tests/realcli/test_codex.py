"""The real Codex CLI under the daemon, against the fake OpenAI Responses API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from coven_trio.daemon import Daemon

from ..sessions_util import in_groups, launch, payload
from ..test_coven_clients import openclaw_turn
from .conftest import leftovers, of, start, until
from .fake_models import FakeOpenAI, Reply, last_user_text

pytestmark = [pytest.mark.slow, pytest.mark.realcli, pytest.mark.timeout(120)]


def shell(cmd: str) -> dict[str, Any]:
    return {"type": "call", "name": "exec_command", "arguments": {"cmd": cmd}}


def text(words: str) -> dict[str, Any]:
    return {"type": "text", "text": words}


async def test_one_turn_then_resume(
    client: httpx.AsyncClient, real: Daemon, project: Path, openai: FakeOpenAI
) -> None:
    sid = await start(client, project, harness="codex", prompt="hello codex")
    seen = await until(client, sid, {"session.waiting", "session.failed"})
    assert [m["content"] for m in of(seen, "message.appended")] == ["echo: hello codex"]
    assert [r["kind"] for r in seen][-1] == "session.waiting"
    first = (await client.get(f"/api/v1/sessions/{sid}")).json()
    assert first["conversation_id"]
    await client.post(f"/api/v1/sessions/{sid}/input", json={"data": "and again"})
    seen = await until(client, sid, {"session.waiting"}, count=2)
    said = [m["content"] for m in of(seen, "message.appended")]
    assert said == ["echo: hello codex", "echo: and again"]
    # the resumed process sent the whole thread
    assert last_user_text(openai.requests[-1]) == "and again"
    assert "echo: hello codex" in json.dumps(openai.requests[-1]["input"])
    ids = [m["id"] for m in of(seen, "message.appended")]
    assert len(set(ids)) == 2  # item ids never repeat across turns
    usage = [c["usage"] for c in of(seen, "agent.complete")]
    assert usage[0] == usage[1]  # each turn's own, not the thread's running total
    assert (await client.get(f"/api/v1/sessions/{sid}")).json()["conversation_id"] == first[
        "conversation_id"
    ]
    await client.post(f"/api/v1/sessions/{sid}/kill")


@pytest.mark.parametrize(
    ("cmd", "status"), [("echo cmd-ran", "completed"), ("ls /nonexistent-dir", "failed")]
)
async def test_commands_report_their_result(
    client: httpx.AsyncClient,
    real: Daemon,
    project: Path,
    openai: FakeOpenAI,
    cmd: str,
    status: str,
) -> None:
    openai.replies.extend([Reply([shell(cmd)]), Reply([text("ran it")])])
    sid = await start(client, project, harness="codex", prompt="run it")
    seen = await until(client, sid, {"session.waiting"})
    [requested] = of(seen, "actions.requested")
    call = requested["actions"][0]
    assert cmd in call["input"]["command"]
    [result] = of(seen, "action.result")
    assert result["status"] == status
    assert result["result"]["callId"] == call["callId"]
    if status == "completed":
        assert result["result"]["output"] == "cmd-ran\n"
    else:
        assert result["result"]["exitCode"] == 2
    assert of(seen, "message.appended")[-1]["content"] == "ran it"
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_writes_in_the_workspace_by_default(
    client: httpx.AsyncClient, real: Daemon, project: Path, openai: FakeOpenAI
) -> None:
    openai.replies.extend([Reply([shell("touch written.txt && echo wrote")]), Reply([text("ok")])])
    sid = await start(client, project, harness="codex", prompt="write")
    seen = await until(client, sid, {"session.waiting"})
    assert (project / "written.txt").exists()
    assert of(seen, "action.result")[0]["status"] == "completed"
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_read_only_sandbox_is_a_launch_option(
    client: httpx.AsyncClient, real: Daemon, project: Path, openai: FakeOpenAI
) -> None:
    openai.replies.extend([Reply([shell("touch written.txt")]), Reply([text("ok")])])
    sid = await start(client, project, harness="codex", prompt="write", sandbox="read-only")
    await until(client, sid, {"session.waiting"})
    assert not (project / "written.txt").exists()
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_a_failed_model_turn_leaves_the_session_waiting(
    client: httpx.AsyncClient, real: Daemon, project: Path, openai: FakeOpenAI
) -> None:
    openai.replies.extend([Reply(failed=True), Reply(failed=True)])  # stream_max_retries=1
    sid = await start(client, project, harness="codex", prompt="fail please")
    seen = await until(client, sid, {"session.waiting", "session.failed"})
    assert [r["kind"] for r in seen][-1] == "session.waiting"
    [failed] = of(seen, "turn.failed")
    assert "the fake model failed" in failed["message"]
    assert of(seen, "agent.retry")  # the reconnect was visible
    assert of(seen, "message.appended") == []
    await client.post(f"/api/v1/sessions/{sid}/input", json={"data": "now work"})
    seen = await until(client, sid, {"session.waiting"}, count=2)
    assert [m["content"] for m in of(seen, "message.appended")] == ["echo: now work"]
    assert (await client.get(f"/api/v1/sessions/{sid}")).json()["status"] == "idle"
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_a_rejected_request_is_a_failure_not_a_retry(
    client: httpx.AsyncClient, real: Daemon, project: Path, openai: FakeOpenAI
) -> None:
    openai.replies.append(Reply(status=400))  # codex does not retry a 400
    sid = await start(client, project, harness="codex", prompt="rejected")
    seen = await until(client, sid, {"session.waiting", "session.failed"})
    assert of(seen, "agent.retry") == []
    [failed] = of(seen, "turn.failed")
    assert failed["code"] == "model_api_error"
    assert "invalid_request_error" in failed["message"]
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_reasoning(
    client: httpx.AsyncClient, real: Daemon, project: Path, openai: FakeOpenAI
) -> None:
    reasoning = {"type": "reasoning", "text": "thinking about it"}
    openai.replies.append(Reply([reasoning, text("thought")]))
    sid = await start(client, project, harness="codex", prompt="think")
    seen = await until(client, sid, {"session.waiting"})
    assert [r["content"] for r in of(seen, "reasoning.appended")] == ["thinking about it"]
    assert [m["content"] for m in of(seen, "message.appended")] == ["thought"]
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_kill_mid_turn(
    client: httpx.AsyncClient, real: Daemon, project: Path, openai: FakeOpenAI
) -> None:
    openai.replies.append(Reply([text("slow " * 200)], delay=0.1))
    record = await launch(client, project, harness="codex", prompt="take your time")
    sid, root = record["id"], record["pid"]
    await until(client, sid, {"turn.started"})
    with trio.fail_after(30):
        while not openai.requests:  # the model is streaming its answer
            await trio.sleep(0.02)
    await client.post(f"/api/v1/sessions/{sid}/kill")
    seen = await until(client, sid, {"session.failed"}, timeout=30)
    assert of(seen, "session.failed")[0]["code"] == "killed"
    assert await leftovers(sid) == []
    # Its node wrapper and native binary are both reaped: no zombie stays in the daemon.
    with trio.move_on_after(30):
        while in_groups({root}):
            await trio.sleep(0.05)
    assert in_groups({root}) == []


async def screen(client: httpx.AsyncClient, sid: str) -> str:
    page = (await client.get("/api/v1/events", params={"sessionId": sid})).json()
    return "".join(str(payload(r).get("data", "")) for r in page["events"] if r["kind"] == "output")


async def test_interactive_tui_renders_and_exits_with_nothing_left(
    client: httpx.AsyncClient, real: Daemon, project: Path, openai: FakeOpenAI
) -> None:
    sid = await start(
        client, project, harness="codex", prompt="hello tui", launchMode="interactive"
    )
    with trio.fail_after(30):
        while "echo:" not in await screen(client, sid):  # the model's answer, drawn
            await trio.sleep(0.2)
    drawn = await screen(client, sid)
    assert "OpenAI Codex" in drawn
    assert "\x1b[24;" in drawn  # it drew on the 24-row window it was given
    # Ctrl-C quits the TUI (0.171: at once when idle, "Shutting down..."; one still busy
    # with its turn asks for a second). Pressed as a person would, until the session
    # ends: what the TUI draws in between is redrawn cell by cell, not text to match.
    seen: list[dict[str, Any]] = []
    with trio.fail_after(60):
        while not seen:
            await client.post(f"/api/v1/sessions/{sid}/input", json={"data": "\x03"})
            with trio.move_on_after(5):  # then a second press
                seen = await until(client, sid, {"session.completed", "session.failed"})
    assert [r["kind"] for r in seen][-1] == "session.completed"
    assert of(seen, "exit")[0]["exitCode"] == 0
    assert await leftovers(sid) == []  # the TUI's app server ran in-process


async def test_a_coven_launch_without_a_mode_runs_to_completion(
    client: httpx.AsyncClient, real: Daemon, project: Path, openai: FakeOpenAI
) -> None:
    body = {"projectRoot": str(project), "harness": "codex", "prompt": "hello coven"}
    text, session = await openclaw_turn(client, body)
    assert (session["status"], session["exit_code"]) == ("completed", 0)
    assert text == "echo: hello coven\n"
