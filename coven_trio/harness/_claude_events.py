"""What Claude Code prints (stream-json), as journal entries.

One line in, zero or more entries out. The semantic stream only: a native line that
adds nothing the entries do not already say (``system/status``, the API's framing
events, a repeated ``system/init``) is not journaled — the session's raw log keeps every
line as printed. Lines this module does not know stay visible as ``harness.event``.

Faithful to what the real CLI does (2.1.197, ``docs/harnesses.md``):

* one ``assistant`` line per content block, all with the message's id: text →
  ``message.appended``, thinking → ``reasoning.appended``, tool_use →
  ``actions.requested``; a synthetic assistant message (model ``<synthetic>``, or an
  ``error`` field) is the CLI reporting an API failure, not the model's words;
* ``result``: ``usage`` is the turn's, ``total_cost_usd`` the process's running total, so
  ``agent.complete`` carries the turn's cost (the difference) and the total; an error
  result with ``api_error_status`` is ``turn.failed {code: model_api_error}``; after our
  interrupt, ``turn.failed {code: interrupted}``;
* exactly one ``action.result`` per tool call (a denial is the CLI's own tool_result,
  marked ``rejected``), with the tool's name kept across turns;
* ``can_use_tool`` for ``AskUserQuestion`` is a ``question`` (its options), any other
  tool a ``tool-approval``.
"""

from __future__ import annotations

from typing import Any

import attrs

from ..vocabulary import ActionStatus, Entry, EntryType, FailureCode
from ._driver import parse_json_line, text_entries

#: Tool names remembered per session (tool calls can be answered in a later turn).
MAX_TOOLS = 10_000
#: Keys of ``system/init`` that change between turns without meaning anything.
_VOLATILE = frozenset({"uuid"})


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


@attrs.define
class ClaudeEvents:
    #: Tool name per call id (a denial's result comes in a later turn).
    tools: dict[str, str] = attrs.field(factory=dict)
    #: Calls the client denied: their tool_result is the rejection.
    denied: set[str] = attrs.field(factory=set)
    #: The Task call each subagent task runs for.
    tasks: dict[str, str] = attrs.field(factory=dict)
    interrupting: bool = False
    #: The conversation's id as ``system/init`` says it.
    conversation_id: str | None = None
    _answering: bool = False
    _cost_total: float = 0.0
    _init: dict[str, Any] | None = None
    _api_error: str | None = None
    _blocks: dict[str, int] = attrs.field(factory=dict)

    def begin_turn(self) -> None:
        self._answering = False
        self._api_error = None
        self.interrupting = False
        self._blocks.clear()

    def _start(self) -> list[Entry]:
        if self._answering:
            return []
        self._answering = True
        return [(EntryType.AGENT_START, {})]

    def translate(self, line: bytes) -> list[Entry]:
        msg = parse_json_line(line)
        if msg is None:
            return text_entries(line)
        kind = msg.get("type")
        if kind == "system":
            return self._system(msg)
        if kind == "stream_event":
            return self._stream_event(msg)
        if kind == "assistant":
            return self._assistant(msg)
        if kind == "user":
            return self._user(msg)
        if kind == "result":
            return self._result(msg)
        if kind == "control_request":
            return self._control_request(msg)
        if kind == "control_response":
            return []  # the CLI's answer to our interrupt
        return [(EntryType.HARNESS_EVENT, {"native": msg})]

    # --- per line type -------------------------------------------------------------------

    def _system(self, msg: dict[str, Any]) -> list[Entry]:
        subtype = msg.get("subtype")
        if subtype == "init":
            if isinstance(msg.get("session_id"), str):
                self.conversation_id = msg["session_id"]
            steady = {k: v for k, v in msg.items() if k not in _VOLATILE}
            if steady == self._init:
                return []  # the CLI repeats it every turn
            self._init = steady
            return [(EntryType.HARNESS_EVENT, {"native": msg})]
        if subtype in ("status", "thinking_tokens"):
            return []
        if subtype == "api_retry":
            retry = {
                "attempt": msg.get("attempt"),
                "maxRetries": msg.get("max_retries"),
                "delayMs": msg.get("retry_delay_ms"),
                "status": msg.get("error_status"),
                "error": msg.get("error"),
            }
            return [(EntryType.AGENT_RETRY, retry)]
        if subtype in ("task_started", "task_updated", "task_notification"):
            patch: dict[str, Any] = msg["patch"] if isinstance(msg.get("patch"), dict) else {}
            task_id, call_id = str(msg.get("task_id")), msg.get("tool_use_id")
            if isinstance(call_id, str) and len(self.tasks) < MAX_TOOLS:
                self.tasks[task_id] = call_id
            task = {
                "event": str(subtype).removeprefix("task_"),
                "taskId": msg.get("task_id"),
                "callId": self.tasks.get(task_id),  # task_updated does not repeat it
                "status": msg.get("status") or patch.get("status") or "started",
                "description": msg.get("description") or msg.get("summary"),
            }
            return [(EntryType.AGENT_TASK, {k: v for k, v in task.items() if v is not None})]
        return [(EntryType.HARNESS_EVENT, {"native": msg})]

    def _stream_event(self, msg: dict[str, Any]) -> list[Entry]:
        event = msg.get("event")
        delta = event.get("delta") if isinstance(event, dict) else None
        if not isinstance(delta, dict):
            return []  # the API's framing: message_start, content_block_start/stop, …
        parent = _parent(msg)
        if delta.get("type") == "text_delta":
            data = {"text": _text(delta.get("text")), **parent}
            return [*self._start(), (EntryType.AGENT_CONTENT_DELTA, data)]
        if delta.get("type") == "thinking_delta":
            data = {"text": _text(delta.get("thinking")), **parent}
            return [*self._start(), (EntryType.AGENT_REASONING_DELTA, data)]
        return []  # input_json_delta, signature_delta: the whole block follows

    def _assistant(self, msg: dict[str, Any]) -> list[Entry]:
        message = msg.get("message")
        if not isinstance(message, dict):
            return [(EntryType.HARNESS_EVENT, {"native": msg})]
        blocks = message.get("content")
        blocks = blocks if isinstance(blocks, list) else []
        if msg.get("error") or message.get("model") == "<synthetic>":
            # The CLI's own words about an API failure: the turn's error, not an answer.
            self._api_error = "".join(
                _text(b.get("text")) for b in blocks if isinstance(b, dict)
            ) or str(msg.get("error") or "the model API failed")
            return []
        entries = self._start()
        parent = _parent(msg)
        message_id = str(message.get("id") or "")
        for block in blocks:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text" and _text(block.get("text")):
                entry_id = self._block_id(message_id)
                data = {"id": entry_id, "role": "assistant", "content": block["text"], **parent}
                entries.append((EntryType.MESSAGE_APPENDED, data))
            elif kind == "thinking" and _text(block.get("thinking")):
                data = {"id": self._block_id(message_id), "content": block["thinking"], **parent}
                entries.append((EntryType.REASONING_APPENDED, data))
            elif kind == "tool_use":
                call_id, name = str(block.get("id", "")), str(block.get("name", ""))
                if len(self.tools) < MAX_TOOLS:
                    self.tools[call_id] = name
                call = {
                    "kind": "tool-call",
                    "callId": call_id,
                    "toolName": name,
                    "input": block.get("input"),
                }
                entries.append((EntryType.ACTIONS_REQUESTED, {"actions": [call], **parent}))
        return entries

    def _block_id(self, message_id: str) -> str:
        """One id per text/thinking block: the message's, then ``<id>:2``, ``<id>:3``…"""
        seen = self._blocks.get(message_id, 0) + 1
        self._blocks[message_id] = seen
        return message_id if seen == 1 else f"{message_id}:{seen}"

    def _user(self, msg: dict[str, Any]) -> list[Entry]:
        message = msg.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        parent = _parent(msg)
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        entries: list[Entry] = []
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_result":
                if (entry := self._tool_result(block)) is not None:
                    entries.append(entry)
            elif block.get("type") == "text" and parent:  # a subagent's prompt
                data = {"role": "user", "content": _text(block.get("text")), **parent}
                entries.append((EntryType.MESSAGE_APPENDED, data))
        return entries  # a plain user text is the CLI echoing ours ("[Request interrupted…]")

    def _tool_result(self, block: dict[str, Any]) -> Entry | None:
        call_id = str(block.get("tool_use_id", ""))
        if call_id in self.denied:  # its action.result was journaled with the denial
            self.denied.discard(call_id)
            return None
        is_error = bool(block.get("is_error"))
        result = {
            "kind": "tool-result",
            "callId": call_id,
            "toolName": self.tools.get(call_id, ""),
            "output": block.get("content"),
            "isError": is_error,
        }
        status = ActionStatus.FAILED if is_error else ActionStatus.COMPLETED
        return EntryType.ACTION_RESULT, {"result": result, "status": status}

    def _result(self, msg: dict[str, Any]) -> list[Entry]:
        complete: dict[str, Any] = {}
        if isinstance(msg.get("usage"), dict):
            complete["usage"] = msg["usage"]
        total = msg.get("total_cost_usd")
        if isinstance(total, int | float) and not isinstance(total, bool):
            complete["costUsd"] = max(0.0, round(total - self._cost_total, 10))
            complete["totalCostUsd"] = total
            self._cost_total = max(self._cost_total, float(total))
        if isinstance(msg.get("duration_ms"), int | float):
            complete["durationMs"] = msg["duration_ms"]
        entries = [*self._start(), (EntryType.AGENT_COMPLETE, complete)]
        status = msg.get("api_error_status")
        if msg.get("is_error") and status is not None:
            failure = {
                "code": FailureCode.MODEL_API_ERROR,
                "message": self._api_error or _text(msg.get("result")) or "the model API failed",
                "details": {"status": status},
            }
            entries.append((EntryType.TURN_FAILED, failure))
        elif self.interrupting and msg.get("subtype") == "error_during_execution":
            interrupted = {"code": FailureCode.INTERRUPTED, "message": "The turn was interrupted."}
            entries.append((EntryType.TURN_FAILED, interrupted))
        elif msg.get("is_error") or msg.get("subtype") not in (None, "success"):
            errors = msg.get("errors")
            message = "; ".join(map(str, errors)) if isinstance(errors, list) and errors else ""
            failure = {
                "code": str(msg.get("subtype") or "error"),
                "message": message or _text(msg.get("result")) or "the turn failed",
            }
            entries.append((EntryType.TURN_FAILED, failure))
        else:
            done: dict[str, Any] = {}
            if "structured_output" in msg:  # --json-schema: the answer, as the CLI parsed it
                done["structuredOutput"] = msg["structured_output"]
            entries.append((EntryType.TURN_COMPLETED, done))
        return entries

    def _control_request(self, msg: dict[str, Any]) -> list[Entry]:
        request = msg.get("request")
        if not isinstance(request, dict) or request.get("subtype") != "can_use_tool":
            return [(EntryType.HARNESS_EVENT, {"native": msg})]
        tool = str(request.get("tool_name", ""))
        tool_input: dict[str, Any] = (
            request["input"] if isinstance(request.get("input"), dict) else {}
        )
        call_id = str(request.get("tool_use_id", ""))
        if call_id and len(self.tools) < MAX_TOOLS:
            self.tools.setdefault(call_id, tool)
        action = {"kind": "tool-call", "callId": call_id, "toolName": tool, "input": tool_input}
        entry: dict[str, Any] = {"requestId": str(msg.get("request_id", "")), "action": action}
        questions = tool_input.get("questions") if tool == "AskUserQuestion" else None
        if isinstance(questions, list) and questions and isinstance(questions[0], dict):
            first = questions[0]
            options: list[Any] = first["options"] if isinstance(first.get("options"), list) else []
            entry.update(
                kind="question",
                prompt=_text(first.get("question")) or "The agent asks a question.",
                display="select",
                allowFreeform=True,
                questions=questions,
                options=[
                    {
                        "id": _text(o.get("label")),
                        "label": _text(o.get("label")),
                        "description": _text(o.get("description")),
                    }
                    for o in options
                    if isinstance(o, dict)
                ],
            )
        else:
            entry.update(
                kind="tool-approval",
                prompt=f"Approve tool call: {tool}",
                display="confirmation",
                allowFreeform=False,
                options=[{"id": "approve", "label": "Yes"}, {"id": "deny", "label": "No"}],
            )
        return [(EntryType.INPUT_REQUESTED, {"requests": [entry]})]


def _parent(msg: dict[str, Any]) -> dict[str, Any]:
    """A subagent's lines carry the Task call they belong to."""
    parent = msg.get("parent_tool_use_id")
    return {"parentCallId": parent} if isinstance(parent, str) and parent else {}
