"""The moments a person hears about, read from what a session journals: a question or an
approval waits (``needs_you``), the agent is done (``finished``), something broke
(``failed``). Pure: the daemon hands each step's entries here and publishes the result.
"""

from __future__ import annotations

from typing import Any

import attrs

from ..vocabulary import Entry, EntryType, FailureCode
from ._event import Notification, NotificationKind

#: A detail (a command, a file) is cut to this many characters in a summary or a list.
DETAIL_CHARS = 200
#: Which input key names what a tool call touches, per tool (Claude Code's names);
#: another tool shows its first string input.
_DETAIL_KEYS = ("command", "file_path", "notebook_path", "path", "url", "pattern", "query")
#: Ends a person asked for (or the daemon's own stop): nothing to tell.
_QUIET_FAILURES = frozenset({FailureCode.KILLED, FailureCode.STOPPED})


@attrs.frozen
class Asking:
    """What one open question (an ``input.requested`` request) asks, for a person."""

    kind: str
    tool: str | None
    detail: str | None
    prompt: str

    @property
    def line(self) -> str:
        """One line: ``Approve Bash: rm -rf build/``."""
        if self.tool and self.detail:
            return f"Approve {self.tool}: {self.detail}"
        return self.prompt


def asking(request: dict[str, Any]) -> Asking:
    """What ``request`` asks: its kind, the tool and the command or file it touches."""
    action = request.get("action")
    action = action if isinstance(action, dict) else {}
    tool = action.get("toolName")
    tool_input = action.get("input")
    detail = None
    if isinstance(tool_input, dict):
        values = [tool_input.get(key) for key in _DETAIL_KEYS] + list(tool_input.values())
        detail = next((v for v in values if isinstance(v, str) and v.strip()), None)
    if detail is not None and len(detail) > DETAIL_CHARS:
        detail = detail[: DETAIL_CHARS - 1] + "…"
    kind = str(request.get("kind") or "tool-approval")
    prompt = str(request.get("prompt") or "The agent asks.")
    return Asking(kind, str(tool) if tool and kind != "question" else None, detail, prompt)


@attrs.frozen
class About:
    """The session a notification is about."""

    session_id: str
    project: str
    harness: str
    title: str


def moments(entries: list[Entry], about: About) -> list[Notification]:
    """The notifications one step of a session's journal calls for (usually none)."""
    types = {type_ for type_, _ in entries}
    found = []
    for type_, data in entries:
        data = data or {}
        if type_ is EntryType.INPUT_REQUESTED:
            for request in data.get("requests", []):
                if isinstance(request, dict):
                    found.append(_needs_you(request, about))
        elif type_ is EntryType.SESSION_WAITING and EntryType.INPUT_REQUESTED not in types:
            if EntryType.TURN_COMPLETED in types:  # the agent is done; the person is next
                found.append(_note(NotificationKind.FINISHED, about, "The agent's turn is done."))
        elif type_ is EntryType.SESSION_COMPLETED:
            found.append(_note(NotificationKind.FINISHED, about, "The session completed."))
        elif _failed(type_, types) and data.get("code") not in _QUIET_FAILURES:
            message = str(data.get("message") or "failed")
            details: dict[str, Any] = {k: data[k] for k in ("code", "exitCode") if k in data}
            found.append(_note(NotificationKind.FAILED, about, message, details))
    return found


def _failed(type_: EntryType, types: set[EntryType]) -> bool:
    """The session failed, or a turn did (told once when both happen in one step)."""
    if type_ is EntryType.SESSION_FAILED:
        return True
    return type_ is EntryType.TURN_FAILED and EntryType.SESSION_FAILED not in types


def _needs_you(request: dict[str, Any], about: About) -> Notification:
    what = asking(request)
    details = {"requestId": request.get("requestId"), "kind": what.kind}
    details.update({k: v for k, v in (("tool", what.tool), ("detail", what.detail)) if v})
    return _note(NotificationKind.NEEDS_YOU, about, what.line, details)


def _note(
    kind: NotificationKind, about: About, summary: str, details: dict[str, Any] | None = None
) -> Notification:
    return Notification(
        kind=kind,
        session_id=about.session_id,
        project=about.project,
        harness=about.harness,
        title=about.title,
        summary=summary[:DETAIL_CHARS],
        details=details or {},
    )
