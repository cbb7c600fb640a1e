"""The real Claude Code CLI under the daemon, against the fake Anthropic API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from coven_trio.daemon import Daemon

from ..test_coven_clients import openclaw_turn
from .conftest import leftovers, of, start, until
from .fake_models import FakeAnthropic, Reply, last_user_text

pytestmark = [pytest.mark.slow, pytest.mark.realcli, pytest.mark.timeout(120)]


async def test_one_turn(client: httpx.AsyncClient, real: Daemon, project: Path) -> None:
    sid = await start(client, project, harness="claude", prompt="hello one")
    seen = await until(client, sid, {"session.waiting", "session.failed"})
    assert [m["content"] for m in of(seen, "message.appended")] == ["echo: hello one"]
    deltas = "".join(d["text"] for d in of(seen, "agent.content.delta"))
    assert deltas == "echo: hello one"
    assert [r["kind"] for r in seen][-2:] == ["turn.completed", "session.waiting"]
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_two_turns(
    client: httpx.AsyncClient, real: Daemon, project: Path, anthropic: FakeAnthropic
) -> None:
    sid = await start(client, project, harness="claude", prompt="first")
    await until(client, sid, {"session.waiting"})
    await client.post(f"/api/v1/sessions/{sid}/input", json={"data": "second"})
    seen = await until(client, sid, {"session.waiting"}, count=2)
    said = [m["content"] for m in of(seen, "message.appended")]
    assert said == ["echo: first", "echo: second"]
    assert [s["sequence"] for s in of(seen, "turn.started")] == [0, 1]
    assert len(anthropic.requests) == 2
    # the second request carries the whole conversation, the same process answered
    assert last_user_text(anthropic.requests[1]) == "second"
    assert "echo: first" in json.dumps(anthropic.requests[1]["messages"])
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_tool_use_runs_and_reports_one_result(
    client: httpx.AsyncClient, real: Daemon, project: Path, anthropic: FakeAnthropic
) -> None:
    (project / "notes.txt").write_text("the secret is 42\n")
    read = {"type": "tool_use", "name": "Read", "input": {"file_path": str(project / "notes.txt")}}
    anthropic.replies.extend([Reply([read]), Reply([text("read it")])])
    sid = await start(client, project, harness="claude", prompt="read the notes")
    seen = await until(client, sid, {"session.waiting"})
    [requested] = of(seen, "actions.requested")
    call = requested["actions"][0]
    assert call["toolName"] == "Read"
    [result] = of(seen, "action.result")
    assert result["status"] == "completed"
    assert result["result"]["callId"] == call["callId"]
    assert result["result"]["toolName"] == "Read"
    assert "the secret is 42" in json.dumps(result["result"]["output"])
    assert "the secret is 42" in json.dumps(anthropic.requests[1]["messages"][-1])
    assert of(seen, "message.appended")[-1]["content"] == "read it"
    await client.post(f"/api/v1/sessions/{sid}/kill")


def assert_quiet_while_waiting(records: list[dict[str, Any]]) -> None:
    """Nothing is journaled between ``session.waiting`` and the client's next input."""
    kinds = [r["kind"] for r in records]
    for index, kind in enumerate(kinds[:-1]):
        if kind == "session.waiting":
            assert kinds[index + 1] in ("input", "turn.started"), kinds


def bash(command: str) -> dict[str, Any]:
    return {"type": "tool_use", "name": "Bash", "input": {"command": command}}


def text(words: str) -> dict[str, Any]:
    return {"type": "text", "text": words}


@pytest.mark.parametrize("answer", ["approve", "deny"])
async def test_permission_allow_and_deny(
    client: httpx.AsyncClient,
    real: Daemon,
    project: Path,
    anthropic: FakeAnthropic,
    answer: str,
) -> None:
    anthropic.replies.extend([Reply([bash("touch made.txt")]), Reply([text("over")])])
    sid = await start(client, project, harness="claude", prompt="make a file", permissionMode="ask")
    parked = await until(client, sid, {"session.waiting"})
    [asked] = of(parked, "input.requested")
    [request] = asked["requests"]
    assert request["kind"] == "tool-approval"
    assert request["action"]["toolName"] == "Bash"
    assert [r["kind"] for r in parked][-3:] == [
        "input.requested",
        "turn.completed",
        "session.waiting",
    ]
    response = await client.post(f"/api/v1/sessions/{sid}/input", json={"data": answer})
    assert response.status_code == 202
    seen = await until(client, sid, {"session.waiting"}, count=2)
    [result] = of(seen, "action.result")  # exactly one, named
    assert result["result"]["toolName"] == "Bash"
    assert result["result"]["callId"] == request["action"]["callId"]
    if answer == "approve":
        assert result["status"] == "completed"
        assert (project / "made.txt").exists()
    else:
        assert result["status"] == "rejected"
        assert result["error"]["code"] == "TOOL_EXECUTION_DENIED"
        assert not (project / "made.txt").exists()
    assert of(seen, "message.appended")[-1]["content"] == "over"
    assert_quiet_while_waiting(seen)
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_two_permission_asks_in_one_message(
    client: httpx.AsyncClient, real: Daemon, project: Path, anthropic: FakeAnthropic
) -> None:
    both = Reply([text("two tools"), bash("touch one.txt"), bash("touch two.txt")])
    anthropic.replies.extend([both, Reply([text("both done")])])
    sid = await start(client, project, harness="claude", prompt="two", permissionMode="ask")
    waits = 1
    answered: set[str] = set()
    while True:
        seen = await until(client, sid, {"session.waiting"}, count=waits)
        done = of(seen, "message.appended")
        if done and done[-1]["content"] == "both done":
            break
        open_requests = [
            r["requestId"]
            for asked in of(seen, "input.requested")
            for r in asked["requests"]
            if r["requestId"] not in answered
        ]
        assert open_requests, [r["kind"] for r in seen]
        answered.update(open_requests)
        response = await client.post(f"/api/v1/sessions/{sid}/input", json={"data": "approve"})
        assert response.status_code == 202, response.text
        waits += 1
    assert len(answered) == 2
    assert_quiet_while_waiting(seen)
    results = of(seen, "action.result")
    assert [(r["status"], r["result"]["toolName"]) for r in results] == [
        ("completed", "Bash"),
        ("completed", "Bash"),
    ]
    assert (project / "one.txt").exists() and (project / "two.txt").exists()
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_ask_user_question_is_answered_with_a_choice(
    client: httpx.AsyncClient, real: Daemon, project: Path, anthropic: FakeAnthropic
) -> None:
    question = {
        "question": "Which colour?",
        "header": "Colour",
        "multiSelect": False,
        "options": [
            {"label": "Red", "description": "warm"},
            {"label": "Blue", "description": "cool"},
        ],
    }
    ask = {"type": "tool_use", "name": "AskUserQuestion", "input": {"questions": [question]}}
    anthropic.replies.extend([Reply([ask]), Reply([text("blue it is")])])
    sid = await start(client, project, harness="claude", prompt="ask me", permissionMode="ask")
    parked = await until(client, sid, {"session.waiting"})
    [request] = of(parked, "input.requested")[0]["requests"]
    assert request["kind"] == "question"
    assert request["prompt"] == "Which colour?"
    assert [o["id"] for o in request["options"]] == ["Red", "Blue"]
    answered = await client.post(f"/api/v1/sessions/{sid}/input", json={"data": "blue"})
    assert answered.status_code == 202, answered.text
    seen = await until(client, sid, {"session.waiting"}, count=2)
    [result] = of(seen, "action.result")
    assert result["status"] == "completed"
    assert result["result"]["toolName"] == "AskUserQuestion"
    told = json.dumps(anthropic.requests[1]["messages"][-1])
    assert "Blue" in told and "did not answer" not in told
    assert of(seen, "message.appended")[-1]["content"] == "blue it is"
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_overloaded_api_is_retried_then_answers(
    client: httpx.AsyncClient, real: Daemon, project: Path, anthropic: FakeAnthropic
) -> None:
    anthropic.replies.append(Reply(status=529))  # CLAUDE_CODE_MAX_RETRIES=1: one retry
    sid = await start(client, project, harness="claude", prompt="busy?")
    seen = await until(client, sid, {"session.waiting"})
    [retry] = of(seen, "agent.retry")
    assert (retry["attempt"], retry["status"]) == (1, 529)
    assert [m["content"] for m in of(seen, "message.appended")] == ["echo: busy?"]
    assert of(seen, "turn.completed")
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_api_failure_fails_the_turn_not_the_session(
    client: httpx.AsyncClient, real: Daemon, project: Path, anthropic: FakeAnthropic
) -> None:
    anthropic.replies.extend([Reply(status=529), Reply(status=529)])
    sid = await start(client, project, harness="claude", prompt="busy?")
    seen = await until(client, sid, {"session.waiting"})
    [failed] = of(seen, "turn.failed")
    assert failed["code"] == "model_api_error"
    assert failed["details"]["status"] == 529
    assert "529" in failed["message"]
    assert of(seen, "message.appended") == []  # the CLI's error text is not the model's
    await client.post(f"/api/v1/sessions/{sid}/input", json={"data": "again"})
    seen = await until(client, sid, {"session.waiting"}, count=2)
    assert [m["content"] for m in of(seen, "message.appended")] == ["echo: again"]
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_thinking_is_reasoning(
    client: httpx.AsyncClient, real: Daemon, project: Path, anthropic: FakeAnthropic
) -> None:
    thought = {"type": "thinking", "thinking": "Let me think about it."}
    anthropic.replies.append(Reply([thought, text("thought: done")]))
    sid = await start(client, project, harness="claude", prompt="think")
    seen = await until(client, sid, {"session.waiting"})
    streamed = "".join(d["text"] for d in of(seen, "agent.reasoning.delta"))
    assert streamed == "Let me think about it."
    assert [r["content"] for r in of(seen, "reasoning.appended")] == ["Let me think about it."]
    assert [m["content"] for m in of(seen, "message.appended")] == ["thought: done"]
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_task_subagent_is_visible(
    client: httpx.AsyncClient, real: Daemon, project: Path, anthropic: FakeAnthropic
) -> None:
    task = {
        "type": "tool_use",
        "name": "Task",
        "input": {
            "description": "Echo in a subagent",
            "prompt": "hello from sub",
            "subagent_type": "general-purpose",
        },
    }
    anthropic.replies.append(Reply([task]))  # then: the subagent's call, the main answer
    sid = await start(client, project, harness="claude", prompt="delegate")
    seen = await until(client, sid, {"session.waiting"})
    [call] = of(seen, "actions.requested")[0]["actions"]
    assert call["toolName"] == "Task"
    tasks = of(seen, "agent.task")
    assert tasks and {t["callId"] for t in tasks} == {call["callId"]}
    assert tasks[-1]["status"] == "completed"
    sub = [m for m in of(seen, "message.appended") if m.get("parentCallId") == call["callId"]]
    assert [m["content"] for m in sub if m["role"] == "user"] == ["hello from sub"]
    [result] = of(seen, "action.result")
    assert result["status"] == "completed" and result["result"]["toolName"] == "Task"
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_kill_mid_turn_interrupts_the_turn(
    client: httpx.AsyncClient, real: Daemon, project: Path, anthropic: FakeAnthropic
) -> None:
    slow = " ".join(f"slow{n}" for n in range(200))
    anthropic.replies.append(Reply([text(slow)], delay=0.1))
    sid = await start(client, project, harness="claude", prompt="take your time")
    await until(client, sid, {"agent.content.delta"})
    await client.post(f"/api/v1/sessions/{sid}/kill")
    seen = await until(client, sid, {"session.failed"}, timeout=60)
    [ended] = of(seen, "turn.failed")
    assert ended["code"] == "interrupted"  # the CLI stopped the turn when asked
    assert of(seen, "session.failed")[0]["code"] == "killed"
    assert await leftovers(sid) == []


async def test_kill_while_a_permission_is_pending(
    client: httpx.AsyncClient, real: Daemon, project: Path, anthropic: FakeAnthropic
) -> None:
    anthropic.replies.append(Reply([bash("touch never.txt")]))
    sid = await start(client, project, harness="claude", prompt="risky", permissionMode="ask")
    await until(client, sid, {"session.waiting"})
    await client.post(f"/api/v1/sessions/{sid}/kill")
    seen = await until(client, sid, {"session.failed"}, timeout=60)
    assert of(seen, "session.failed")[0]["code"] == "killed"
    assert not (project / "never.txt").exists()
    assert await leftovers(sid) == []


async def test_a_coven_launch_without_a_mode_runs_to_completion(
    client: httpx.AsyncClient, real: Daemon, project: Path, anthropic: FakeAnthropic
) -> None:
    """The OpenClaw runtime's turn with the real CLI: no launchMode, output text, done."""
    body = {"projectRoot": str(project), "harness": "claude", "prompt": "hello coven"}
    text, session = await openclaw_turn(client, body)
    assert (session["status"], session["exit_code"]) == ("completed", 0)
    assert text == "echo: hello coven\n"
