"""How a journal entry reads for a person: one reading per entry, used by the plain
transcript (``tail``, ``sessions log``) and the chat alike.

:func:`show` says what an entry is to a person (a streamed word, a whole message, a tool
line, a question, the end of a turn…) with its text; :class:`Transcript` turns those into
plain text, and the chat (``_chat``) into its live view. Tool lines and failures read as
on Coven's terminal (:func:`coven_trio.render.terminal_text`).
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

import attrs

from ..render import terminal_text
from ..vocabulary import EntryType


class Kind(Enum):
    DELTA = "delta"  #: streamed words of the assistant's message
    MESSAGE = "message"  #: the assistant's whole message
    SAID = "said"  #: the person's message reached the harness
    STARTED = "started"  #: a turn started
    TOOL = "tool"  #: a tool call, or a tool that failed or was denied
    QUESTION = "question"  #: the harness asks (tool approvals, questions)
    RESOLVED = "resolved"  #: questions answered
    FAILED = "failed"  #: the turn failed
    CANCELLED = "cancelled"  #: the turn was cancelled
    WAITING = "waiting"  #: the session waits for the person
    RAW = "raw"  #: a terminal's output
    STDERR = "stderr"
    EXIT = "exit"
    COMPLETED = "completed"  #: the session completed
    ENDED = "ended"  #: the session failed or was killed
    NOTE = "note"  #: anything else worth a line (truncation, kill)


@attrs.frozen
class Shown:
    kind: Kind
    text: str
    data: dict[str, Any]


def show(entry: dict[str, Any]) -> Shown | None:
    """What ``entry`` (eve line shape: ``type``, ``data``) is to a person; None for
    entries not worth showing (a subagent's inner work, bookkeeping)."""
    try:
        kind = EntryType(str(entry.get("type")))
    except ValueError:
        return None  # a newer daemon's entry type
    data: dict[str, Any] = entry.get("data") or {}
    if data.get("parentCallId"):
        return None
    text = _text(kind, data)
    return None if text is None else Shown(text[0], text[1], data)


def _text(kind: EntryType, data: dict[str, Any]) -> tuple[Kind, str] | None:
    match kind:
        case EntryType.AGENT_CONTENT_DELTA:
            return Kind.DELTA, str(data.get("text", ""))
        case EntryType.MESSAGE_APPENDED if data.get("role") == "assistant":
            return Kind.MESSAGE, str(data.get("content", ""))
        case EntryType.MESSAGE_RECEIVED:
            return Kind.SAID, str(data.get("message", ""))
        case EntryType.TURN_STARTED:
            return Kind.STARTED, ""
        case EntryType.ACTIONS_REQUESTED | EntryType.ACTION_RESULT:
            line = terminal_text(kind, data)
            return (Kind.TOOL, line.rstrip("\n")) if line else None
        case EntryType.INPUT_REQUESTED:
            requests = [r for r in data.get("requests", []) if isinstance(r, dict)]
            return Kind.QUESTION, "; ".join(str(r.get("prompt", "")) for r in requests)
        case EntryType.INPUT_RESOLVED:
            return Kind.RESOLVED, ""
        case EntryType.TURN_FAILED:
            return Kind.FAILED, str(data.get("message") or data.get("code") or "the turn failed")
        case EntryType.TURN_CANCELLED:
            return Kind.CANCELLED, "turn cancelled"
        case EntryType.SESSION_WAITING:
            return Kind.WAITING, "waiting for input"
        case EntryType.OUTPUT if not data.get("rendered"):  # (rendered: a copy of entries)
            return Kind.RAW, str(data.get("data", ""))
        case EntryType.STDERR:
            return Kind.STDERR, str(data.get("text", ""))
        case EntryType.EXIT:
            signal = f" {data['signal']}" if "signal" in data else ""
            return Kind.EXIT, f"exit {data.get('exitCode')}{signal}"
        case EntryType.SESSION_COMPLETED:
            return Kind.COMPLETED, "session completed"
        case EntryType.SESSION_FAILED:
            return Kind.ENDED, f"session failed: {data.get('code')}: {data.get('message')}"
        case EntryType.OUTPUT_TRUNCATED | EntryType.KILL:
            return Kind.NOTE, f"{kind}: {json.dumps(data)}"
    return None


class Transcript:
    """Plain text of a session, entry by entry: what a person reads in ``tail`` and
    ``sessions log``. A message that streamed is not printed again whole."""

    def __init__(self) -> None:
        self._streamed = False

    def text(self, entry: dict[str, Any]) -> str | None:
        shown = show(entry)
        if shown is None:
            return None
        match shown.kind:
            case Kind.DELTA:
                self._streamed = True
                return shown.text
            case Kind.MESSAGE:
                streamed, self._streamed = self._streamed, False
                return "\n" if streamed else f"{shown.text}\n"
            case Kind.RAW:
                return shown.text
            case Kind.SAID:
                return f"\n> {shown.text}\n"
            case Kind.TOOL:
                return f"{shown.text}\n"
            case Kind.QUESTION:
                return f"\n[input requested: {shown.text}]\n"
            case Kind.STDERR:
                return f"[stderr] {shown.text}\n"
            case Kind.FAILED:
                return f"\n[turn failed: {shown.text}]\n"
            case Kind.WAITING | Kind.CANCELLED | Kind.EXIT | Kind.NOTE:
                return f"\n[{shown.text}]\n"
            case Kind.COMPLETED | Kind.ENDED:
                return f"[{shown.text}]\n"
        return None
