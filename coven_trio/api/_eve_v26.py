"""eve's current message stream (versions 21-26, served as 26) over the same journal.

One line per journal entry, so ``streamIndex`` means the same in both versions and a
client may reconnect with either. Each entry is translated into the event today's
client reduces (eve's ``protocol/message``): text and reasoning stream as deltas
(``message.appended {messageDelta}``, ``reasoning.appended {reasoningDelta}``) and each
assistant message ends with ``message.completed {message, finishReason}``; the harness's
start and end of work are ``step.started`` / ``step.completed``; turn events carry
``turnId`` and ``sequence``; every event has ``meta {id, at}`` (``id`` is unique and
stable across replays: the client's dedupe key) and, within a turn a client's send
started, ``meta.deliveryIds`` (the client skips events until it sees its id). Entries
eve has no word for (``output``, ``exit``, ``harness.event``…) keep their own type,
which the client ignores.
"""

from __future__ import annotations

from typing import Any

from .._json import dumps
from ..journal import Journal
from ..vocabulary import TURN_SCOPED, EntryType

VERSION = "26"
#: The fields of an input request today's client accepts (its schema is strict).
_REQUEST_KEYS = ("action", "allowFreeform", "display", "kind", "options", "prompt", "requestId")
_ACTION_KEYS = ("callId", "input", "kind", "toolName")
_OPTION_KEYS = ("description", "id", "label", "style")
#: Entries after which events carry the ids of the turn that just ended.
_AFTER_TURN = frozenset({EntryType.SESSION_WAITING})


def _only(value: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: value[k] for k in keys if k in value}


def _request(request: dict[str, Any]) -> dict[str, Any]:
    shown = _only(request, _REQUEST_KEYS)
    action = request.get("action")
    if isinstance(action, dict):
        shown["action"] = _only(action, _ACTION_KEYS)
        if not isinstance(shown["action"].get("input"), dict):
            shown["action"]["input"] = {}
    if isinstance(request.get("options"), list):
        shown["options"] = [
            _only(o, _OPTION_KEYS) for o in request["options"] if isinstance(o, dict)
        ]
    return shown


class V26Lines:
    """A reader for :func:`~coven_trio.api._tail.tail`: entries from one index on, as
    v26 lines. It remembers the turn it is in, so it must read in order; made for a
    start index, it first reads back to that turn's start."""

    def __init__(self, journal: Journal, start: int) -> None:
        self.session_id = journal.session_id
        self.turn_id: str | None = None
        self.sequence = 0
        self.step = -1
        self.deliveries: list[str] = []
        first = start - 1
        while first >= 0 and journal.type_of(first) != EntryType.TURN_STARTED:
            first -= 1
        for index in range(first, start) if first >= 0 else ():
            entry = journal.get(index)
            self._event(index, entry.type, entry.data if isinstance(entry.data, dict) else {})

    def __call__(self, journal: Journal, index: int) -> tuple[bytes, int]:
        chunk = bytearray()
        end = len(journal)
        while index < end and len(chunk) < 1 << 20:
            entry = journal.get(index)
            data = entry.data if isinstance(entry.data, dict) else {}
            type_, shown, stamped = self._event(index, entry.type, data)
            meta: dict[str, Any] = {"id": f"evt_{self.session_id}_{index}", "at": entry.at}
            if stamped and self.deliveries:
                meta["deliveryIds"] = self.deliveries
            line: dict[str, Any] = {"type": type_}
            if shown is not None:
                line["data"] = shown
            line.update(streamIndex=index, meta=meta)
            chunk += dumps(line) + b"\n"
            index += 1
        return bytes(chunk), index

    def _turn(self, data: dict[str, Any], step: bool = False) -> dict[str, Any]:
        fields: dict[str, Any] = {"sequence": self.sequence, "turnId": self.turn_id or "turn_0"}
        if step:
            fields["stepIndex"] = max(self.step, 0)
        return {**data, **fields}

    def _event(
        self, index: int, type_: str, data: dict[str, Any]
    ) -> tuple[str, dict[str, Any] | None, bool]:
        """``(type, data, carries the turn's delivery ids)`` of one entry."""
        if type_ == EntryType.TURN_STARTED:
            self.turn_id = str(data.get("turnId", "turn_0"))
            self.sequence = int(data.get("sequence", 0))
            self.step = -1
            self.deliveries = [str(d) for d in data.get("deliveryIds", [])]
            return type_, {"sequence": self.sequence, "turnId": self.turn_id}, True
        stamped = type_ in TURN_SCOPED or type_ in _AFTER_TURN
        subagent = bool(data.get("parentCallId"))
        match type_:
            case EntryType.MESSAGE_RECEIVED:
                message = str(data.get("message", ""))
                parts = [{"type": "text", "text": message}]
                return type_, self._turn({"message": message, "parts": parts}), stamped
            case EntryType.AGENT_START:
                self.step += 1
                return "step.started", self._turn({"modelId": ""}, step=True), stamped
            case EntryType.AGENT_COMPLETE:
                return "step.completed", self._turn({"finishReason": "stop"}, step=True), stamped
            case EntryType.AGENT_CONTENT_DELTA if not subagent:
                delta = {"messageDelta": str(data.get("text", ""))}
                return "message.appended", self._turn(delta, step=True), stamped
            case EntryType.AGENT_REASONING_DELTA if not subagent:
                delta = {"reasoningDelta": str(data.get("text", ""))}
                return "reasoning.appended", self._turn(delta, step=True), stamped
            case EntryType.MESSAGE_APPENDED if not subagent and data.get("role") == "assistant":
                done = {"finishReason": "stop", "message": str(data.get("content", ""))}
                return "message.completed", self._turn(done, step=True), stamped
            case EntryType.REASONING_APPENDED if not subagent:
                done = {"reasoning": str(data.get("content", ""))}
                return "reasoning.completed", self._turn(done, step=True), stamped
            case EntryType.MESSAGE_APPENDED | EntryType.AGENT_CONTENT_DELTA:
                return "harness.message", data, stamped  # a subagent's words
            case EntryType.AGENT_REASONING_DELTA | EntryType.REASONING_APPENDED:
                return "harness.reasoning", data, stamped
            case EntryType.INPUT_REQUESTED:
                requests = [_request(r) for r in data.get("requests", []) if isinstance(r, dict)]
                return type_, self._turn({"requests": requests}, step=True), stamped
            case (
                EntryType.ACTIONS_REQUESTED
                | EntryType.ACTION_RESULT
                | EntryType.INPUT_RESOLVED
                | EntryType.RESULT_COMPLETED
            ):
                return type_, self._turn(data, step=True), stamped
            case EntryType.COMPACTION_REQUESTED:
                fields = {"modelId": "", "usageInputTokens": None, **data}
                return type_, self._turn(fields, step=True), stamped
            case EntryType.COMPACTION_COMPLETED:
                return type_, self._turn({"modelId": "", **data}, step=True), stamped
            case EntryType.TURN_FAILED:
                failed = {"details": None, "terminal": False, **data}
                return type_, self._turn(failed), stamped
            case EntryType.TURN_COMPLETED | EntryType.TURN_CANCELLED | EntryType.CONTEXT_CLEARED:
                return type_, self._turn(data), stamped
        return type_, data or None, stamped
