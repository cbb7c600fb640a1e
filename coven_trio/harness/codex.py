"""Codex: ``codex exec --json``, one process per turn, follow-ups by ``resume``.

* ``nonInteractive`` (default): ``codex [--model M] --sandbox S --ask-for-approval A
  [-c developer_instructions=…] exec --json --skip-git-repo-check --color never
  [--output-schema F] [resume THREAD] -- -``; the prompt is written to stdin, then closed.
  A turn that fails leaves the thread resumable, so the session waits for the next.
* ``interactive``: the TUI on a PTY (``--no-daemon``: its app server stays in-process).

``sandbox`` defaults to ``workspace-write``: a session is meant to edit its project, and
in the read-only sandbox a write fails without even an item saying so. What the CLI
prints is translated for the turn it belongs to: item ids get the turn's prefix (codex
restarts them every process) and ``usage``, cumulative across resumes, becomes the
turn's own. ``docs/harnesses.md`` has the full table.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from typing import Any

import attrs

from .._json import dumps
from ..vocabulary import ActionStatus, Entry, EntryType, FailureCode, LaunchMode
from ._driver import Driver, parse_json_line, text_entries

EXEC_ARGS = ("exec", "--json", "--skip-git-repo-check", "--color", "never")
SANDBOXES = ("read-only", "workspace-write", "danger-full-access")
APPROVALS = ("untrusted", "on-failure", "on-request", "never")
DEFAULT_SANDBOX = "workspace-write"

#: codex's retry message: ``Reconnecting... 2/5 (stream disconnected before completion)``.
_RECONNECT = re.compile(r"^Reconnecting\.\.\. (\d+)/(\d+)(?: \((.*)\))?\s*$", re.DOTALL)

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
    #: ``exec`` has read stdin to its end before it starts: EOF means nothing; SIGTERM
    #: to its group ends it at once.
    stops_on_eof: bool = False
    sandbox: str | None = None
    approval: str | None = None
    #: The file holding this turn's JSON Schema (``--output-schema`` takes a path).
    _schema_file: str | None = None
    _requested: set[str] = attrs.field(factory=set)
    _turn_id: str = "turn_0"
    _usage: dict[str, int] = attrs.field(factory=dict)
    #: A non-retry ``error`` line, waiting for the ``turn.failed`` it explains.
    _final_error: dict[str, Any] | None = None

    def __attrs_post_init__(self) -> None:
        self.structured = self.mode is not LaunchMode.INTERACTIVE
        self.per_turn = self.mode is LaunchMode.NON_INTERACTIVE

    def _head(self) -> list[str]:
        head = [self.executable, *(["--model", self.model] if self.model else [])]
        head += ["--sandbox", self.sandbox or DEFAULT_SANDBOX]
        approval = self.approval or ("never" if self.per_turn else None)
        if approval:
            head += ["--ask-for-approval", approval]
        if self.system_prompt:  # once, as developer instructions (a TOML string)
            head += ["-c", f"developer_instructions={json.dumps(self.system_prompt)}"]
        return head

    def _schema(self) -> list[str]:
        """``--output-schema FILE`` for this turn: a private temporary file, replaced
        every turn and removed with the session (:meth:`close`)."""
        self.close()
        if self.output_schema is None:
            return []
        fd, self._schema_file = tempfile.mkstemp(prefix="coven-schema-", suffix=".json")
        with os.fdopen(fd, "wb") as file:
            file.write(dumps(self.output_schema))
        return ["--output-schema", self._schema_file]

    def close(self) -> None:
        if self._schema_file is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._schema_file)
            self._schema_file = None

    def _exec(self, resume: bool) -> list[str]:
        schema = self._schema()
        thread = ["resume", self.conversation_id] if resume and self.conversation_id else []
        return [*self._head(), *EXEC_ARGS, *schema, *thread, "--", "-"]

    def first_argv(self, prompt: str) -> list[str]:
        if self.mode is LaunchMode.INTERACTIVE:
            return [*self._head(), "--no-daemon", *(["--", prompt] if prompt else [])]
        return self._exec(self.resume)

    def next_argv(self, prompt: str) -> list[str]:
        return self._exec(True)

    def prompt_stdin(self, prompt: str) -> bytes | None:
        return None if self.mode is LaunchMode.INTERACTIVE else prompt.encode()

    def begin_turn(self, turn_id: str) -> None:
        self._requested.clear()
        self._turn_id = turn_id

    def translate(self, line: bytes) -> list[Entry]:
        msg = parse_json_line(line)
        if msg is None:
            return [*self._unfailed(), *text_entries(line)]
        kind = msg.get("type")
        if kind == "turn.failed":
            return self._failed(msg)
        if kind != "error":
            return [*self._unfailed(), *self._translate(kind, msg)]
        return self._error(msg)

    def _error(self, msg: dict[str, Any]) -> list[Entry]:
        """codex's ``error`` line: a reconnect (``Reconnecting... 2/5 (why)``) is a retry;
        anything else is the model API's last word, which belongs to the ``turn.failed``
        that follows it (held until then; kept as a native event if none comes)."""
        message = str(msg.get("message", ""))
        retry = _RECONNECT.match(message)
        if retry is None:
            held = self._unfailed()
            self._final_error = msg
            return held
        attempt, limit, why = retry.groups()
        data = {"attempt": int(attempt), "maxRetries": int(limit), "error": why or message}
        return [*self._unfailed(), (EntryType.AGENT_RETRY, data)]

    def finish(self) -> list[Entry]:
        return self._unfailed()

    def _unfailed(self) -> list[Entry]:
        """An error line that no ``turn.failed`` followed: journaled as it came."""
        held, self._final_error = self._final_error, None
        return [(EntryType.HARNESS_EVENT, {"native": held})] if held is not None else []

    def _failed(self, msg: dict[str, Any]) -> list[Entry]:
        error = msg.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        final, self._final_error = self._final_error, None
        # An error line before it: the model API failed (after codex's own retries).
        code = FailureCode.MODEL_API_ERROR if final else FailureCode.HARNESS_TURN_FAILED
        if not message and final is not None:
            message = final.get("message")
        failure = {"code": code, "message": str(message or "")}
        return [(EntryType.AGENT_COMPLETE, {}), (EntryType.TURN_FAILED, failure)]

    def _translate(self, kind: Any, msg: dict[str, Any]) -> list[Entry]:
        if kind == "thread.started":
            if isinstance(msg.get("thread_id"), str):
                self.conversation_id = msg["thread_id"]
            return [(EntryType.HARNESS_EVENT, {"native": msg})]
        if kind == "turn.started":
            return [(EntryType.AGENT_START, {})]
        if kind == "turn.completed":
            usage = msg.get("usage")
            complete = {"usage": self._turn_usage(usage)} if isinstance(usage, dict) else {}
            return [(EntryType.AGENT_COMPLETE, complete), (EntryType.TURN_COMPLETED, {})]
        if kind in ("item.started", "item.updated", "item.completed"):
            item = msg.get("item")
            if isinstance(item, dict):
                return self._item(kind, item, msg)
        return [(EntryType.HARNESS_EVENT, {"native": msg})]

    def _turn_usage(self, usage: dict[str, Any]) -> dict[str, Any]:
        """codex reports the thread's totals; the turn's usage is the difference."""
        turn: dict[str, Any] = {}
        for key, value in usage.items():
            if isinstance(value, int) and not isinstance(value, bool):
                turn[key] = max(0, value - self._usage.get(key, 0))
                self._usage[key] = value
            else:
                turn[key] = value
        return turn

    def _item(self, kind: str, item: dict[str, Any], msg: dict[str, Any]) -> list[Entry]:
        item_type = item.get("type")
        # Ids restart at item_0 in every process: make them the turn's.
        item_id = f"{self._turn_id}/{item.get('id', '')}"
        if item_type == "agent_message" and kind == "item.completed":
            text = str(item.get("text", ""))
            return [
                (EntryType.MESSAGE_APPENDED, {"id": item_id, "role": "assistant", "content": text})
            ]
        if item_type == "reasoning" and kind == "item.completed":
            return [
                (
                    EntryType.REASONING_APPENDED,
                    {"id": item_id, "content": str(item.get("text", ""))},
                )
            ]
        if item_type == "error":  # e.g. "Model metadata for … not found"
            return [(EntryType.HARNESS_EVENT, {"native": msg})]
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
            if isinstance(item.get("exit_code"), int):
                result["exitCode"] = item["exit_code"]
            verdict = ActionStatus.FAILED if failed else ActionStatus.COMPLETED
            if status == "declined":
                verdict = ActionStatus.REJECTED
            entries.append((EntryType.ACTION_RESULT, {"result": result, "status": verdict}))
        return entries


def _input(item: dict[str, Any]) -> Any:
    keys = ("command", "changes", "server", "tool", "arguments", "query")
    return {k: item[k] for k in keys if k in item}


def _output(item: dict[str, Any]) -> Any:
    for key in ("aggregated_output", "result", "error"):
        if key in item:
            return item[key]
    return None
