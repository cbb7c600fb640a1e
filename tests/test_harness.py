"""Pure parts of the harness adapters: argv building, translation, line framing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coven_trio.errors import InvalidRequest
from coven_trio.harness import HarnessCatalog, model_id
from coven_trio.harness._lines import LineFramer, Truncated
from coven_trio.harness.claude import ClaudeDriver
from coven_trio.harness.codex import CodexDriver
from coven_trio.harness.manifest import load_manifests
from coven_trio.vocabulary import LaunchMode


def line(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_claude_argv_per_mode() -> None:
    stream = ClaudeDriver(executable="/bin/claude", mode=LaunchMode.STREAM, model="sonnet")
    assert stream.first_argv("hi") == [
        "/bin/claude",
        "--model",
        "sonnet",
        "--print",
        "--input-format",
        "stream-json",
        "--output-format",
        "stream-json",
        "--verbose",
        "--include-partial-messages",
    ]
    assert stream.prompt_stdin("hi") == (
        b'{"type":"user","message":{"role":"user","content":[{"type":"text","text":"hi"}]}}\n'
    )
    printing = ClaudeDriver(executable="claude", mode=LaunchMode.NON_INTERACTIVE)
    assert printing.first_argv("-x") == [
        "claude",
        "--print",
        "--output-format",
        "stream-json",
        "--verbose",
        "--",
        "-x",
    ]
    assert printing.per_turn and printing.close_stdin_after_prompt
    printing.conversation_id = "abc"
    assert printing.next_argv("more")[-4:] == ["--resume", "abc", "--", "more"]
    interactive = ClaudeDriver(executable="claude", mode=LaunchMode.INTERACTIVE)
    assert interactive.first_argv("hi") == ["claude", "--", "hi"]
    assert interactive.use_pty and not interactive.structured


def test_claude_bypass_permissions_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVEN_CLAUDE_BYPASS_PERMISSIONS", "1")
    argv = ClaudeDriver(executable="claude", mode=LaunchMode.INTERACTIVE).first_argv("p")
    assert argv == ["claude", "--permission-mode", "bypassPermissions", "--", "p"]


def test_codex_argv_and_resume() -> None:
    codex = CodexDriver(executable="codex", mode=LaunchMode.NON_INTERACTIVE, model="gpt-5")
    assert codex.first_argv("p") == [
        "codex",
        "--model",
        "gpt-5",
        "exec",
        "--json",
        "--skip-git-repo-check",
        "--color",
        "never",
        "--",
        "-",
    ]
    assert codex.prompt_stdin("p") == b"p"
    assert codex.close_stdin_after_prompt
    codex.translate(line({"type": "thread.started", "thread_id": "t-1"}))
    assert codex.conversation_id == "t-1"
    assert codex.next_argv("q")[-4:] == ["resume", "t-1", "--", "-"]
    assert CodexDriver(executable="codex", mode=LaunchMode.INTERACTIVE).first_argv("p") == [
        "codex",
        "--",
        "p",
    ]


def test_model_ids() -> None:
    assert model_id("openai/gpt-5.5") == "gpt-5.5"
    assert model_id("  ") is None
    for bad in ("a b", "x/a..b", "-rf"):
        with pytest.raises(InvalidRequest):
            model_id(bad)


def test_claude_translation() -> None:
    claude = ClaudeDriver(executable="claude", mode=LaunchMode.STREAM)
    init = claude.translate(line({"type": "system", "subtype": "init", "session_id": "s1"}))
    assert init[0][0] == "harness.event" and claude.conversation_id == "s1"
    delta = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hi"}}
    assert claude.translate(line({"type": "stream_event", "event": delta})) == [
        ("agent.start", {}),
        ("agent.content.delta", {"text": "Hi"}),
    ]
    tool = {
        "type": "assistant",
        "message": {
            "id": "m1",
            "content": [
                {"type": "text", "text": "Running"},
                {"type": "tool_use", "id": "tu1", "name": "Bash", "input": {"command": "ls"}},
            ],
        },
    }
    assert claude.translate(line(tool)) == [
        ("message.appended", {"id": "m1", "role": "assistant", "content": "Running"}),
        (
            "actions.requested",
            {
                "actions": [
                    {
                        "kind": "tool-call",
                        "callId": "tu1",
                        "toolName": "Bash",
                        "input": {"command": "ls"},
                    }
                ]
            },
        ),
    ]
    result = {
        "type": "user",
        "message": {"content": [{"type": "tool_result", "tool_use_id": "tu1", "content": "ok"}]},
    }
    assert claude.translate(line(result)) == [
        (
            "action.result",
            {
                "result": {
                    "kind": "tool-result",
                    "callId": "tu1",
                    "toolName": "Bash",
                    "output": "ok",
                    "isError": False,
                },
                "status": "completed",
            },
        )
    ]
    done = claude.translate(
        line({"type": "result", "subtype": "success", "duration_ms": 5, "total_cost_usd": 0.1})
    )
    assert done == [("agent.complete", {"costUsd": 0.1, "durationMs": 5}), ("turn.completed", {})]
    failed = claude.translate(
        line({"type": "result", "subtype": "error_max_turns", "is_error": True, "errors": ["x"]})
    )
    assert failed[-1] == ("turn.failed", {"code": "error_max_turns", "message": "x"})
    ask = {
        "type": "control_request",
        "request_id": "r1",
        "request": {"subtype": "can_use_tool", "tool_name": "Bash", "input": {}},
    }
    [(kind, data)] = claude.translate(line(ask))
    assert kind == "input.requested"
    assert data["requests"][0]["requestId"] == "r1"
    assert [o["id"] for o in data["requests"][0]["options"]] == ["approve", "deny"]
    assert claude.translate(line({"type": "rate_limit_event"}))[0][0] == "harness.event"
    assert claude.translate(b"plain text") == [("output", {"data": "plain text\n"})]
    assert claude.translate(b"   ") == []


def test_codex_translation() -> None:
    codex = CodexDriver(executable="codex", mode=LaunchMode.NON_INTERACTIVE)
    assert codex.translate(line({"type": "turn.started"})) == [("agent.start", {})]
    started = {
        "type": "item.started",
        "item": {"id": "i1", "type": "command_execution", "command": "ls"},
    }
    [(kind, data)] = codex.translate(line(started))
    assert kind == "actions.requested"
    assert data["actions"][0]["toolName"] == "shell"
    completed = {
        "type": "item.completed",
        "item": {
            "id": "i1",
            "type": "command_execution",
            "command": "ls",
            "exit_code": 1,
            "aggregated_output": "no",
            "status": "failed",
        },
    }
    [(kind, data)] = codex.translate(line(completed))
    assert (kind, data["status"], data["result"]["isError"]) == ("action.result", "failed", True)
    message = {
        "type": "item.completed",
        "item": {"id": "i2", "type": "agent_message", "text": "done"},
    }
    assert codex.translate(line(message)) == [
        ("message.appended", {"id": "i2", "role": "assistant", "content": "done"})
    ]
    assert codex.translate(line({"type": "turn.completed", "usage": {"a": 1}})) == [
        ("agent.complete", {"usage": {"a": 1}}),
        ("turn.completed", {}),
    ]
    failed = codex.translate(line({"type": "turn.failed", "error": {"message": "quota"}}))
    assert failed[-1] == ("turn.failed", {"code": "HARNESS_TURN_FAILED", "message": "quota"})
    reasoning = {"type": "item.completed", "item": {"id": "i3", "type": "reasoning"}}
    assert codex.translate(line(reasoning))[0][0] == "harness.event"


def test_line_framer_limits_and_chunking() -> None:
    framer = LineFramer(max_line=10)
    assert framer.feed(b"ab") == []
    assert framer.feed(b"c\nde\n") == [b"abc", b"de"]
    assert framer.feed(b"x" * 8) == []
    assert framer.feed(b"y" * 8) == []  # over the limit: discarding, nothing buffered
    assert framer.feed(b"zz\nok\n") == [Truncated(18), b"ok"]
    assert framer.feed(b"0123456789A\n") == [Truncated(11)]
    assert framer.feed(b"tail") == []
    assert framer.flush() == [b"tail"]


@given(st.lists(st.binary(max_size=30), max_size=20), st.integers(1, 40))
def test_line_framer_matches_split(chunks: list[bytes], limit: int) -> None:
    data = b"".join(chunks)
    framer = LineFramer(max_line=limit)
    out = [piece for chunk in chunks for piece in framer.feed(chunk)] + framer.flush()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    expected = [ln if len(ln) <= limit else Truncated(len(ln)) for ln in lines]
    assert out == expected


def test_manifests_are_loaded_and_errors_reported(tmp_path: Path) -> None:
    adapters = tmp_path / "adapters"
    adapters.mkdir()
    (adapters / "good.json").write_text(
        json.dumps(
            {
                "adapters": [
                    {
                        "id": "echo",
                        "label": "Echo",
                        "executable": "./echo.py",
                        "interactive_prompt_prefix_args": [],
                        "non_interactive_prompt_prefix_args": ["--once"],
                        "capabilities": {"stream": True},
                        "stream_args": {"prefix_args": ["--stream"]},
                    }
                ]
            }
        )
    )
    (adapters / "bad.json").write_text('{"id": "Bad Id", "executable": "x"}')
    (adapters / "claude.json").write_text('{"id": "claude", "executable": "x"}')
    manifests, errors = load_manifests(tmp_path)
    assert [m.id for m in manifests] == ["claude", "echo"]
    assert manifests[1].executable == str(adapters / "echo.py")
    assert len(errors) == 1 and "bad.json" in errors[0]
    catalog = HarnessCatalog(tmp_path)
    spec = catalog.get("echo")
    assert spec is not None and spec.default_mode == "stream"
    assert any("built in" in e for e in catalog.errors)
    assert "echo" not in catalog.available()  # ./echo.py does not exist
