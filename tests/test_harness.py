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
    stream = ClaudeDriver(
        executable="/bin/claude",
        mode=LaunchMode.STREAM,
        model="sonnet",
        conversation_flags=True,
        conversation_id="c-1",
    )
    assert stream.first_argv("hi") == [
        "/bin/claude",
        "--model",
        "sonnet",
        # no permissionMode: claude asks the daemon, which asks a person if one is there
        "--permission-prompt-tool",
        "stdio",
        "--session-id",
        "c-1",
        "--input-format",
        "stream-json",
        "--output-format",
        "stream-json",
        "--verbose",
        "--include-partial-messages",
        "--print",  # last: claude starts 140-200 ms sooner than with it first
    ]
    assert stream.prompt_stdin("hi") == (
        b'{"type":"user","message":{"role":"user","content":[{"type":"text","text":"hi"}]}}\n'
    )
    assert stream.stops_on_eof and stream.interrupt() is not None
    printing = ClaudeDriver(executable="claude", mode=LaunchMode.NON_INTERACTIVE)
    assert printing.first_argv("-x") == [
        "claude",
        "--output-format",
        "stream-json",
        "--verbose",
        "--print",
        "--",
        "-x",
    ]
    assert printing.per_turn and printing.close_stdin_after_prompt
    assert not printing.stops_on_eof and printing.interrupt() is None
    printing.conversation_id = "abc"
    printing.conversation_flags = True
    assert printing.next_argv("more")[1:3] == ["--resume", "abc"]
    interactive = ClaudeDriver(executable="claude", mode=LaunchMode.INTERACTIVE)
    assert interactive.first_argv("hi") == ["claude", "--", "hi"]
    assert interactive.use_pty and not interactive.structured


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("ask", ["--permission-prompt-tool", "stdio"]),
        ("acceptEdits", ["--permission-mode", "acceptEdits"]),
        (None, []),
    ],
)
def test_claude_permission_modes(mode: str | None, expected: list[str]) -> None:
    driver = ClaudeDriver(executable="claude", mode=LaunchMode.STREAM, permission_mode=mode)
    assert driver.first_argv("p")[1 : 1 + len(expected)] == expected


def test_claude_bypass_permissions_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVEN_CLAUDE_BYPASS_PERMISSIONS", "1")
    argv = ClaudeDriver(executable="claude", mode=LaunchMode.INTERACTIVE).first_argv("p")
    assert argv == ["claude", "--permission-mode", "bypassPermissions", "--", "p"]


def test_codex_argv_and_resume() -> None:
    codex = CodexDriver(
        executable="codex",
        mode=LaunchMode.NON_INTERACTIVE,
        model="gpt-5",
        system_prompt='Be "brief"',
    )
    assert codex.first_argv("p") == [
        "codex",
        "--model",
        "gpt-5",
        "--sandbox",
        "workspace-write",
        "--ask-for-approval",
        "never",
        "-c",
        'developer_instructions="Be \\"brief\\""',
        "exec",
        "--json",
        "--skip-git-repo-check",
        "--color",
        "never",
        "--",
        "-",
    ]
    assert codex.prompt_stdin("p") == b"p"  # the system prompt is not prefixed any more
    assert codex.close_stdin_after_prompt and not codex.stops_on_eof
    codex.translate(line({"type": "thread.started", "thread_id": "t-1"}))
    assert codex.conversation_id == "t-1"
    assert codex.next_argv("q")[-4:] == ["resume", "t-1", "--", "-"]
    tui = CodexDriver(executable="codex", mode=LaunchMode.INTERACTIVE, sandbox="read-only")
    assert tui.first_argv("p") == ["codex", "--sandbox", "read-only", "--no-daemon", "--", "p"]


def test_model_ids() -> None:
    assert model_id("openai/gpt-5.5") == "gpt-5.5"
    assert model_id("  ") is None
    for bad in ("a b", "x/a..b", "-rf"):
        with pytest.raises(InvalidRequest):
            model_id(bad)


def stream_event(delta: dict[str, object], parent: str | None = None) -> bytes:
    event = {"type": "content_block_delta", "index": 0, "delta": delta}
    return line({"type": "stream_event", "event": event, "parent_tool_use_id": parent})


def assistant(*blocks: dict[str, object], **extra: object) -> bytes:
    message = {"id": "msg_1", "model": "claude-x", "content": list(blocks)}
    return line({"type": "assistant", "message": message, **extra})


def test_claude_text_thinking_and_init_once() -> None:
    claude = ClaudeDriver(executable="claude", mode=LaunchMode.STREAM)
    init = {"type": "system", "subtype": "init", "session_id": "s1", "uuid": "u1"}
    assert claude.translate(line(init))[0][0] == "harness.event" and claude.conversation_id == "s1"
    assert claude.translate(line({**init, "uuid": "u2"})) == []  # repeated every turn
    assert claude.translate(line({"type": "system", "subtype": "status"})) == []
    assert claude.translate(stream_event({"type": "thinking_delta", "thinking": "hm"})) == [
        ("agent.start", {}),
        ("agent.reasoning.delta", {"text": "hm"}),
    ]
    assert claude.translate(stream_event({"type": "text_delta", "text": "Hi"})) == [
        ("agent.content.delta", {"text": "Hi"})
    ]
    assert claude.translate(stream_event({"type": "signature_delta", "signature": "x"})) == []
    framing = {"type": "stream_event", "event": {"type": "message_stop"}}
    assert claude.translate(line(framing)) == []  # the semantic entries say it all
    thought = claude.translate(assistant({"type": "thinking", "thinking": "hm"}))
    text = claude.translate(assistant({"type": "text", "text": "Hi"}))
    more = claude.translate(assistant({"type": "text", "text": "there"}))
    assert thought == [("reasoning.appended", {"id": "msg_1", "content": "hm"})]
    assert text == [("message.appended", {"id": "msg_1:2", "role": "assistant", "content": "Hi"})]
    assert more[0][1]["id"] == "msg_1:3"  # one id per block of the message


def test_claude_tool_calls_have_exactly_one_result_and_keep_their_names() -> None:
    claude = ClaudeDriver(executable="claude", mode=LaunchMode.STREAM, permission_mode="ask")
    use = {"type": "tool_use", "id": "tu1", "name": "Bash", "input": {"command": "rm x"}}
    [start, (kind, data)] = claude.translate(assistant(use))
    assert start == ("agent.start", {})  # the first output of the turn
    assert (kind, data["actions"][0]["toolName"]) == ("actions.requested", "Bash")
    ask = {
        "type": "control_request",
        "request_id": "r1",
        "request": {
            "subtype": "can_use_tool",
            "tool_name": "Bash",
            "tool_use_id": "tu1",
            "input": {"command": "rm x"},
        },
    }
    [(kind, data)] = claude.translate(line(ask))
    request = data["requests"][0]
    assert (kind, request["kind"], request["requestId"]) == (
        "input.requested",
        "tool-approval",
        "r1",
    )
    claude.begin_turn("turn_1")  # the answer starts the next turn
    denial = claude.control_response(request, False, None)
    assert denial is not None and json.loads(denial)["response"]["response"]["behavior"] == "deny"
    result = {
        "type": "tool_result",
        "tool_use_id": "tu1",
        "is_error": True,
        "content": "The user denied this tool call.",
    }
    # The denial's action.result is journaled with the answer (input.resolved), as eve
    # does; the CLI's own report of the refused call adds nothing.
    assert claude.translate(line({"type": "user", "message": {"content": [result]}})) == []
    other = {**result, "tool_use_id": "tu2", "content": "exit 1"}
    [(kind, data)] = claude.translate(line({"type": "user", "message": {"content": [other]}}))
    assert (kind, data["status"]) == ("action.result", "failed")


def test_claude_ask_user_question_is_a_question_answered_with_the_choice() -> None:
    claude = ClaudeDriver(executable="claude", mode=LaunchMode.STREAM, permission_mode="ask")
    questions = [
        {
            "question": "Pick one?",
            "header": "Pick",
            "multiSelect": False,
            "options": [
                {"label": "A", "description": "first"},
                {"label": "B", "description": "second"},
            ],
        }
    ]
    ask = {
        "type": "control_request",
        "request_id": "r2",
        "request": {
            "subtype": "can_use_tool",
            "tool_name": "AskUserQuestion",
            "tool_use_id": "tu2",
            "input": {"questions": questions},
        },
    }
    [(_, data)] = claude.translate(line(ask))
    request = data["requests"][0]
    assert request["kind"] == "question" and request["prompt"] == "Pick one?"
    assert [o["id"] for o in request["options"]] == ["A", "B"]
    answer = claude.control_response(request, True, "B")
    assert answer is not None
    updated = json.loads(answer)["response"]["response"]["updatedInput"]
    assert updated == {"questions": questions, "answers": {"Pick one?": "B"}}


def test_claude_api_errors_fail_the_turn_and_are_not_the_models_words() -> None:
    claude = ClaudeDriver(executable="claude", mode=LaunchMode.STREAM)
    retry = {
        "type": "system",
        "subtype": "api_retry",
        "attempt": 1,
        "max_retries": 1,
        "retry_delay_ms": 500.0,
        "error_status": 529,
        "error": "overloaded",
    }
    assert claude.translate(line(retry)) == [
        (
            "agent.retry",
            {"attempt": 1, "maxRetries": 1, "delayMs": 500.0, "status": 529, "error": "overloaded"},
        )
    ]
    synthetic = assistant(
        {"type": "text", "text": "API Error: 529 Overloaded."}, error="server_error"
    )
    assert claude.translate(synthetic) == []
    result = {
        "type": "result",
        "subtype": "success",
        "is_error": True,
        "api_error_status": 529,
        "result": "API Error: 529 Overloaded.",
        "total_cost_usd": 0,
    }
    entries = claude.translate(line(result))
    assert entries[-1] == (
        "turn.failed",
        {
            "code": "model_api_error",
            "message": "API Error: 529 Overloaded.",
            "details": {"status": 529},
        },
    )


def test_claude_cost_per_turn_from_the_running_total() -> None:
    claude = ClaudeDriver(executable="claude", mode=LaunchMode.STREAM)
    first = claude.translate(
        line(
            {
                "type": "result",
                "subtype": "success",
                "total_cost_usd": 0.1,
                "usage": {"output_tokens": 5},
            }
        )
    )
    claude.begin_turn("turn_1")
    second = claude.translate(
        line({"type": "result", "subtype": "success", "total_cost_usd": 0.25})
    )
    assert first[1] == (
        "agent.complete",
        {"usage": {"output_tokens": 5}, "costUsd": 0.1, "totalCostUsd": 0.1},
    )
    assert second[1][1]["costUsd"] == pytest.approx(0.15)
    assert second[1][1]["totalCostUsd"] == 0.25
    claude.interrupt()
    stopped = claude.translate(
        line({"type": "result", "subtype": "error_during_execution", "is_error": True})
    )
    assert stopped[-1] == (
        "turn.failed",
        {"code": "interrupted", "message": "The turn was interrupted."},
    )
    assert claude.translate(b"plain text") == [("output", {"data": "plain text\n"})]
    assert claude.translate(b"   ") == []


def test_claude_subagents_are_visible() -> None:
    claude = ClaudeDriver(executable="claude", mode=LaunchMode.STREAM)
    started = {
        "type": "system",
        "subtype": "task_started",
        "task_id": "t1",
        "tool_use_id": "tu3",
        "description": "Echo in a subagent",
    }
    assert claude.translate(line(started)) == [
        (
            "agent.task",
            {
                "event": "started",
                "taskId": "t1",
                "callId": "tu3",
                "status": "started",
                "description": "Echo in a subagent",
            },
        )
    ]
    prompt = {
        "type": "user",
        "parent_tool_use_id": "tu3",
        "message": {"content": [{"type": "text", "text": "hello from sub"}]},
    }
    assert claude.translate(line(prompt)) == [
        ("message.appended", {"role": "user", "content": "hello from sub", "parentCallId": "tu3"})
    ]


def test_codex_translation() -> None:
    codex = CodexDriver(executable="codex", mode=LaunchMode.NON_INTERACTIVE)
    codex.begin_turn("turn_0")
    assert codex.translate(line({"type": "turn.started"})) == [("agent.start", {})]
    started = {
        "type": "item.started",
        "item": {"id": "item_1", "type": "command_execution", "command": "ls"},
    }
    [(kind, data)] = codex.translate(line(started))
    assert kind == "actions.requested"
    assert data["actions"][0]["toolName"] == "shell"
    assert data["actions"][0]["callId"] == "turn_0/item_1"  # ids restart every process
    completed = {
        "type": "item.completed",
        "item": {
            "id": "item_1",
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
        "item": {"id": "item_2", "type": "agent_message", "text": "done"},
    }
    assert codex.translate(line(message)) == [
        ("message.appended", {"id": "turn_0/item_2", "role": "assistant", "content": "done"})
    ]
    assert codex.translate(line({"type": "turn.completed", "usage": {"input_tokens": 40}})) == [
        ("agent.complete", {"usage": {"input_tokens": 40}}),
        ("turn.completed", {}),
    ]
    codex.begin_turn("turn_1")
    second = codex.translate(line({"type": "turn.completed", "usage": {"input_tokens": 90}}))
    assert second[0] == ("agent.complete", {"usage": {"input_tokens": 50}})  # the turn's own
    failed = codex.translate(line({"type": "turn.failed", "error": {"message": "quota"}}))
    assert failed[-1] == ("turn.failed", {"code": "HARNESS_TURN_FAILED", "message": "quota"})
    reasoning = {
        "type": "item.completed",
        "item": {"id": "item_3", "type": "reasoning", "text": "hm"},
    }
    assert codex.translate(line(reasoning)) == [
        ("reasoning.appended", {"id": "turn_1/item_3", "content": "hm"})
    ]
    assert codex.translate(line({"type": "error", "message": "Reconnecting... 1/5"})) == [
        ("agent.retry", {"attempt": 1, "maxRetries": 5, "error": "Reconnecting... 1/5"})
    ]


def test_codex_retries_are_retries_and_its_final_error_is_the_failure() -> None:
    """Lines as codex 0.169 prints them (an overloaded API, then a rejected request)."""
    codex = CodexDriver(executable="codex", mode=LaunchMode.NON_INTERACTIVE)
    busy = "We\u2019re currently experiencing high demand, which may cause temporary errors."
    retry = {"type": "error", "message": f"Reconnecting... 2/5 ({busy})"}
    assert codex.translate(line(retry)) == [
        ("agent.retry", {"attempt": 2, "maxRetries": 5, "error": busy})
    ]
    # A 400: no retry, one error line, then the failure. The error is not a retry entry.
    rejected = '{"error": {"message": "fake rejection (HTTP 400)"}}'
    assert codex.translate(line({"type": "error", "message": rejected})) == []
    failed = codex.translate(line({"type": "turn.failed", "error": {"message": rejected}}))
    assert failed == [
        ("agent.complete", {}),
        ("turn.failed", {"code": "model_api_error", "message": rejected}),
    ]
    # An error line that no failure follows is kept, as codex printed it.
    odd = {"type": "error", "message": "something else"}
    assert codex.translate(line(odd)) == []
    assert codex.translate(line({"type": "turn.started"})) == [
        ("harness.event", {"native": odd}),
        ("agent.start", {}),
    ]


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
