"""Claude Code: argv for each launch mode and stream-json → journal translation.

* ``stream`` (default): ``claude --print --input-format stream-json --output-format
  stream-json --verbose --include-partial-messages``; the prompt and every follow-up are
  user lines on stdin; the process lives across turns.
* ``nonInteractive``: ``claude --print --output-format stream-json --verbose
  [--resume ID] -- PROMPT``, one process per turn, follow-ups resume the session id from
  ``system/init``.
* ``interactive``: ``claude -- PROMPT`` on a PTY, raw output.

``--model`` goes first, as Coven prepends it. ``COVEN_CLAUDE_BYPASS_PERMISSIONS=1`` adds
``--permission-mode bypassPermissions``, as in Coven.
"""

from __future__ import annotations

import os
from typing import Any

import attrs

from .._json import dumps
from ..vocabulary import ActionStatus, Entry, EntryType, LaunchMode
from ._driver import Driver, parse_json_line, user_line

STREAM_ARGS = (
    "--print",
    "--input-format",
    "stream-json",
    "--output-format",
    "stream-json",
    "--verbose",
    "--include-partial-messages",
)
PRINT_ARGS = ("--print", "--output-format", "stream-json", "--verbose")


def _bypass() -> list[str]:
    flag = os.environ.get("COVEN_CLAUDE_BYPASS_PERMISSIONS", "").lower()
    return ["--permission-mode", "bypassPermissions"] if flag in ("1", "true") else []


@attrs.define
class ClaudeDriver(Driver):
    structured: bool = True
    per_turn: bool = False
    #: Extra argv before the stream prefix (a manifest's own stream prefix replaces ours).
    stream_args: tuple[str, ...] = STREAM_ARGS
    model_flag: str = "--model"
    #: Ask us (on stdout, ``control_request``) before using a tool (stream mode).
    permission_prompts: bool = False
    #: Name the conversation on the command line (``--session-id`` / ``--resume``): the
    #: real claude does; a manifest's stream harness may not.
    conversation_flags: bool = False
    _answering: bool = False
    _tools: dict[str, str] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        self.structured = self.mode is not LaunchMode.INTERACTIVE
        self.per_turn = self.mode is LaunchMode.NON_INTERACTIVE
        # ``--print`` reads piped stdin to EOF before it starts: give it EOF at once.
        self.close_stdin_after_prompt = self.per_turn

    def _head(self) -> list[str]:
        head = [self.executable]
        if self.model:
            head += [self.model_flag, self.model]
        if self.system_prompt:
            head += ["--append-system-prompt", self.system_prompt]
        if self.permission_prompts:
            head += ["--permission-prompt-tool", "stdio"]
        return head + _bypass()

    def _conversation(self) -> list[str]:
        """``--session-id ID`` (the daemon chose it, so resuming never depends on reading
        it back from the output) or ``--resume ID``."""
        if not self.conversation_flags or self.conversation_id is None:
            return []
        return ["--resume" if self.resume else "--session-id", self.conversation_id]

    def first_argv(self, prompt: str) -> list[str]:
        if self.mode is LaunchMode.STREAM:
            return [*self._head(), *self.stream_args, *self._conversation()]
        if self.mode is LaunchMode.NON_INTERACTIVE:
            return [*self._head(), *PRINT_ARGS, *self._conversation(), "--", prompt]
        return [*self._head(), "--", prompt]

    def next_argv(self, prompt: str) -> list[str]:
        resume = ["--resume", self.conversation_id] if self.conversation_id else []
        return [*self._head(), *PRINT_ARGS, *resume, "--", prompt]

    def prompt_stdin(self, prompt: str) -> bytes | None:
        return user_line(prompt) if self.mode is LaunchMode.STREAM else None

    def turn_input(self, text: str) -> bytes | None:
        return user_line(text) if self.mode is LaunchMode.STREAM else None

    def control_response(self, request_id: str, allow: bool, tool_input: Any) -> bytes | None:
        inner: dict[str, Any]
        if allow:
            inner = {"behavior": "allow", "updatedInput": tool_input or {}}
        else:
            inner = {"behavior": "deny", "message": "The user denied this tool call."}
        response = {
            "type": "control_response",
            "response": {"subtype": "success", "request_id": request_id, "response": inner},
        }
        return dumps(response) + b"\n"

    def begin_turn(self) -> None:
        self._answering = False
        self._tools.clear()

    def _start(self) -> list[Entry]:
        if self._answering:
            return []
        self._answering = True
        return [(EntryType.AGENT_START, {})]

    def translate(self, line: bytes) -> list[Entry]:
        msg = parse_json_line(line)
        if msg is None:
            return super().translate(line) if line.strip() else []
        kind = msg.get("type")
        if kind == "system" and msg.get("subtype") == "init":
            if isinstance(msg.get("session_id"), str):
                self.conversation_id = msg["session_id"]
            return [(EntryType.HARNESS_EVENT, {"native": msg})]
        if kind == "stream_event":
            return self._stream_event(msg)
        if kind == "assistant":
            return self._assistant(msg)
        if kind == "user":
            return self._tool_results(msg)
        if kind == "result":
            return self._result(msg)
        if kind == "control_request":
            return self._control_request(msg)
        return [(EntryType.HARNESS_EVENT, {"native": msg})]

    def _stream_event(self, msg: dict[str, Any]) -> list[Entry]:
        event = msg.get("event")
        delta = event.get("delta") if isinstance(event, dict) else None
        if isinstance(delta, dict) and delta.get("type") == "text_delta":
            return [
                *self._start(),
                (EntryType.AGENT_CONTENT_DELTA, {"text": str(delta.get("text", ""))}),
            ]
        return [(EntryType.HARNESS_EVENT, {"native": msg})]

    def _assistant(self, msg: dict[str, Any]) -> list[Entry]:
        message = msg.get("message")
        if not isinstance(message, dict):
            return [(EntryType.HARNESS_EVENT, {"native": msg})]
        entries = self._start()
        blocks = message.get("content")
        blocks = blocks if isinstance(blocks, list) else []
        text = "".join(
            str(b.get("text", ""))
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "text"
        )
        if text:
            entries.append(
                (
                    EntryType.MESSAGE_APPENDED,
                    {"id": message.get("id"), "role": "assistant", "content": text},
                )
            )
        calls = []
        for block in blocks:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                call_id, name = str(block.get("id", "")), str(block.get("name", ""))
                self._tools[call_id] = name
                calls.append(
                    {
                        "kind": "tool-call",
                        "callId": call_id,
                        "toolName": name,
                        "input": block.get("input"),
                    }
                )
        if calls:
            entries.append((EntryType.ACTIONS_REQUESTED, {"actions": calls}))
        return entries

    def _tool_results(self, msg: dict[str, Any]) -> list[Entry]:
        message = msg.get("message")
        blocks = message.get("content") if isinstance(message, dict) else None
        entries: list[Entry] = []
        for block in blocks if isinstance(blocks, list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                call_id = str(block.get("tool_use_id", ""))
                is_error = bool(block.get("is_error"))
                result = {
                    "kind": "tool-result",
                    "callId": call_id,
                    "toolName": self._tools.get(call_id, ""),
                    "output": block.get("content"),
                    "isError": is_error,
                }
                status = ActionStatus.FAILED if is_error else ActionStatus.COMPLETED
                entries.append((EntryType.ACTION_RESULT, {"result": result, "status": status}))
        return entries or [(EntryType.HARNESS_EVENT, {"native": msg})]

    def _result(self, msg: dict[str, Any]) -> list[Entry]:
        complete: dict[str, Any] = {}
        if "usage" in msg:
            complete["usage"] = msg["usage"]
        if "total_cost_usd" in msg:
            complete["costUsd"] = msg["total_cost_usd"]
        if "duration_ms" in msg:
            complete["durationMs"] = msg["duration_ms"]
        entries = [*self._start(), (EntryType.AGENT_COMPLETE, complete)]
        if msg.get("is_error") or msg.get("subtype") not in (None, "success"):
            errors = msg.get("errors")
            message = "; ".join(map(str, errors)) if isinstance(errors, list) and errors else ""
            entries.append(
                (
                    EntryType.TURN_FAILED,
                    {
                        "code": str(msg.get("subtype") or "error"),
                        "message": message or str(msg.get("result") or "the turn failed"),
                    },
                )
            )
        else:
            entries.append((EntryType.TURN_COMPLETED, {}))
        return entries

    def _control_request(self, msg: dict[str, Any]) -> list[Entry]:
        request = msg.get("request")
        if not isinstance(request, dict) or request.get("subtype") != "can_use_tool":
            return [(EntryType.HARNESS_EVENT, {"native": msg})]
        tool = str(request.get("tool_name", ""))
        return [
            (
                EntryType.INPUT_REQUESTED,
                {
                    "requests": [
                        {
                            "requestId": str(msg.get("request_id", "")),
                            "prompt": f"Approve tool call: {tool}",
                            "action": {
                                "kind": "tool-call",
                                "callId": str(request.get("tool_use_id", "")),
                                "toolName": tool,
                                "input": request.get("input"),
                            },
                            "display": "confirmation",
                            "allowFreeform": False,
                            "options": [
                                {"id": "approve", "label": "Yes"},
                                {"id": "deny", "label": "No"},
                            ],
                        }
                    ]
                },
            )
        ]
