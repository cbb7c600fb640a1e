"""Terminal text for structured harness output, so every session has ``output`` a Coven
client can show (Coven's runtime and chat TUI render ``output {data}`` and nothing else).

Pure: one journal entry in, the text a person would want to see out (or None). The
assistant's words as whole messages, each tool call as one line, denials, failures and
questions; the structured entries stay the source of truth beside it.
"""

from __future__ import annotations

import json
from typing import Any

from .vocabulary import ActionStatus, EntryType

#: A tool call's input is shown up to this many characters.
MAX_INPUT_CHARS = 160
#: Input fields that say what a call does better than its whole input.
_SALIENT = ("command", "cmd", "file_path", "path", "pattern", "url", "query", "description")


def terminal_text(type_: EntryType, data: dict[str, Any] | None) -> str | None:
    """The text ``type_`` shows on a terminal, or None for entries that show nothing."""
    if data is None or data.get("parentCallId"):  # a subagent's inner workings
        return None
    if type_ is EntryType.MESSAGE_APPENDED and data.get("role") == "assistant":
        content = data.get("content")
        return f"{content}\n" if isinstance(content, str) and content else None
    if type_ is EntryType.ACTIONS_REQUESTED:
        lines = [_call(a) for a in data.get("actions") or [] if isinstance(a, dict)]
        return "".join(lines) or None
    if type_ is EntryType.ACTION_RESULT:
        status = data.get("status")
        if status == ActionStatus.REJECTED:
            return "  ✗ denied\n"
        if status == ActionStatus.FAILED:
            return "  ✗ failed\n"
        return None
    if type_ is EntryType.INPUT_REQUESTED:
        return "".join(_question(r) for r in data.get("requests") or [] if isinstance(r, dict))
    if type_ is EntryType.TURN_FAILED:
        return f"error: {data.get('message') or data.get('code') or 'the turn failed'}\n"
    return None


def _call(action: dict[str, Any]) -> str:
    tool_input = action.get("input")
    shown: Any = tool_input
    if isinstance(tool_input, dict):
        shown = next((tool_input[k] for k in _SALIENT if isinstance(tool_input.get(k), str)), None)
        if shown is None:
            shown = json.dumps(tool_input, ensure_ascii=False, separators=(",", ":"))
    text = " ".join(str(shown if shown is not None else "").split())
    if len(text) > MAX_INPUT_CHARS:
        text = text[: MAX_INPUT_CHARS - 1] + "…"
    return f"→ {action.get('toolName') or 'tool'} {text}".rstrip() + "\n"


def _question(request: dict[str, Any]) -> str:
    options = [str(o.get("label") or o.get("id")) for o in request.get("options") or []]
    choices = f" [{' / '.join(options)}]" if options else ""
    return f"? {request.get('prompt') or 'The agent asks.'}{choices}\n"
