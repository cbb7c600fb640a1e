"""Codex: ``codex exec --json``, one process per turn, follow-ups by ``resume``.

* ``nonInteractive`` (default): ``codex [--model M] exec --json --skip-git-repo-check
  --color never -- -``; the prompt is written to stdin, which is then closed. A follow-up
  is a new process: ``codex [--model M] exec --json --skip-git-repo-check --color never
  resume <thread_id> -- -`` (the thread id comes from ``thread.started``).
* ``interactive``: ``codex -- PROMPT`` on a PTY, raw output.

There is no stream mode (codex has no stdin protocol for later turns).
"""

from __future__ import annotations

from typing import Any

import attrs

from ..vocabulary import ActionStatus, Entry, EntryType, FailureCode, LaunchMode
from ._driver import Driver, parse_json_line

EXEC_ARGS = ("exec", "--json", "--skip-git-repo-check", "--color", "never")

#: Codex item types that are tool calls, and the tool name we report for them.
_TOOL_ITEMS = {
    "command_execution": "shell",
    "file_change": "apply_patch",
    "mcp_tool_call": "mcp",
    "web_search": "web_search",
}


@attrs.define
class CodexDriver(Driver):
    close_stdin_after_prompt: bool = True
    _requested: set[str] = attrs.field(factory=set)

    def __attrs_post_init__(self) -> None:
        self.structured = self.mode is not LaunchMode.INTERACTIVE
        self.per_turn = self.mode is LaunchMode.NON_INTERACTIVE

    def _head(self) -> list[str]:
        return [self.executable, *(["--model", self.model] if self.model else [])]

    def first_argv(self, prompt: str) -> list[str]:
        if self.mode is LaunchMode.INTERACTIVE:
            return [*self._head(), "--", prompt]
        if self.resume and self.conversation_id:
            return [*self._head(), *EXEC_ARGS, "resume", self.conversation_id, "--", "-"]
        return [*self._head(), *EXEC_ARGS, "--", "-"]

    def next_argv(self, prompt: str) -> list[str]:
        resume = ["resume", self.conversation_id] if self.conversation_id else []
        return [*self._head(), *EXEC_ARGS, *resume, "--", "-"]

    def prompt_stdin(self, prompt: str) -> bytes | None:
        if self.mode is LaunchMode.INTERACTIVE:
            return None
        if self.system_prompt:
            prompt = f"{self.system_prompt}\n\n{prompt}"
        return prompt.encode()

    def begin_turn(self) -> None:
        self._requested.clear()

    def translate(self, line: bytes) -> list[Entry]:
        msg = parse_json_line(line)
        if msg is None:
            return super().translate(line) if line.strip() else []
        kind = msg.get("type")
        if kind == "thread.started":
            if isinstance(msg.get("thread_id"), str):
                self.conversation_id = msg["thread_id"]
            return [(EntryType.HARNESS_EVENT, {"native": msg})]
        if kind == "turn.started":
            return [(EntryType.AGENT_START, {})]
        if kind == "turn.completed":
            usage = msg.get("usage")
            complete = {"usage": usage} if usage is not None else {}
            return [(EntryType.AGENT_COMPLETE, complete), (EntryType.TURN_COMPLETED, {})]
        if kind == "turn.failed":
            error = msg.get("error")
            message = error.get("message") if isinstance(error, dict) else None
            return [
                (EntryType.AGENT_COMPLETE, {}),
                (
                    EntryType.TURN_FAILED,
                    {"code": FailureCode.HARNESS_TURN_FAILED, "message": str(message or "")},
                ),
            ]
        if kind in ("item.started", "item.updated", "item.completed"):
            item = msg.get("item")
            if isinstance(item, dict):
                return self._item(kind, item, msg)
        return [(EntryType.HARNESS_EVENT, {"native": msg})]

    def _item(self, kind: str, item: dict[str, Any], msg: dict[str, Any]) -> list[Entry]:
        item_type = item.get("type")
        item_id = str(item.get("id", ""))
        if item_type == "agent_message" and kind == "item.completed":
            text = str(item.get("text", ""))
            return [
                (EntryType.MESSAGE_APPENDED, {"id": item_id, "role": "assistant", "content": text})
            ]
        tool = _TOOL_ITEMS.get(str(item_type))
        if tool is None:
            return [(EntryType.HARNESS_EVENT, {"native": msg})]
        entries: list[Entry] = []
        if item_id not in self._requested:
            self._requested.add(item_id)
            call = {"kind": "tool-call", "callId": item_id, "toolName": tool, "input": _input(item)}
            entries.append((EntryType.ACTIONS_REQUESTED, {"actions": [call]}))
        if kind == "item.completed":
            status = str(item.get("status", "completed"))
            failed = status in ("failed", "declined") or item.get("exit_code") not in (None, 0)
            result = {
                "kind": "tool-result",
                "callId": item_id,
                "toolName": tool,
                "output": _output(item),
                "isError": failed,
            }
            verdict = (
                ActionStatus.REJECTED
                if status == "declined"
                else ActionStatus.FAILED
                if failed
                else ActionStatus.COMPLETED
            )
            entries.append((EntryType.ACTION_RESULT, {"result": result, "status": verdict}))
        return entries or [(EntryType.HARNESS_EVENT, {"native": msg})]


def _input(item: dict[str, Any]) -> Any:
    keys = ("command", "changes", "server", "tool", "arguments", "query")
    return {k: item[k] for k in keys if k in item}


def _output(item: dict[str, Any]) -> Any:
    for key in ("aggregated_output", "result", "error"):
        if key in item:
            return item[key]
    return None
