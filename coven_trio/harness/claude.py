"""Claude Code: argv for each launch mode and stream-json → journal translation.

* ``stream`` (default): ``claude --input-format stream-json --output-format stream-json
  --verbose --include-partial-messages … --print``; the prompt and every follow-up are
  user lines on stdin; the process lives across turns.
* ``nonInteractive``: ``claude --output-format stream-json --verbose … --print -- PROMPT``,
  one process per turn, follow-ups ``--resume`` the conversation.
* ``interactive``: ``claude -- PROMPT`` on a PTY, raw output.

The conversation is named by the daemon (``--session-id``) so resuming it never depends on
reading it back. ``--model`` goes first, as Coven prepends it. ``permissionMode``:
``ask`` routes permission questions to the client (``--permission-prompt-tool stdio``,
stream mode); the others are ``--permission-mode`` values. Translation of what the CLI
prints is in ``_claude_events.py``; ``docs/harnesses.md`` has the full table.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import attrs

from .._json import dumps
from ..vocabulary import Ask, Entry, LaunchMode
from ._claude_events import ClaudeEvents
from ._driver import Driver, user_line

STREAM_ARGS = (
    "--input-format",
    "stream-json",
    "--output-format",
    "stream-json",
    "--verbose",
    "--include-partial-messages",
    "--print",
)
PRINT_ARGS = ("--output-format", "stream-json", "--verbose", "--print")
#: ``permissionMode`` values: ``ask`` asks the client; the rest are claude's own.
PERMISSION_MODES = ("default", "acceptEdits", "plan", "bypassPermissions", "ask")


def bypass_from_env() -> bool:
    """``COVEN_CLAUDE_BYPASS_PERMISSIONS=1|true``, as in Coven."""
    return os.environ.get("COVEN_CLAUDE_BYPASS_PERMISSIONS", "").lower() in ("1", "true")


@attrs.define
class ClaudeDriver(Driver):
    structured: bool = True
    per_turn: bool = False
    #: The stream prefix (a manifest's own stream prefix replaces ours).
    stream_args: tuple[str, ...] = STREAM_ARGS
    model_flag: str = "--model"
    #: ``permissionMode`` (None: the CLI's default, or Coven's bypass variable).
    permission_mode: str | None = None
    #: Name the conversation on the command line (``--session-id`` / ``--resume``): the
    #: real claude does; a manifest's stream harness may not.
    conversation_flags: bool = False
    events: ClaudeEvents = attrs.field(factory=ClaudeEvents)

    def __attrs_post_init__(self) -> None:
        self.structured = self.mode is not LaunchMode.INTERACTIVE
        self.per_turn = self.mode is LaunchMode.NON_INTERACTIVE
        # ``--print`` reads piped stdin to EOF before it starts: give it EOF at once.
        self.close_stdin_after_prompt = self.per_turn
        # Only the stream process reads stdin for more: there EOF asks it to finish.
        self.stops_on_eof = self.mode is LaunchMode.STREAM

    @property
    def asks(self) -> Ask:
        """Who answers its permission questions: clients (``ask``), a person when one is
        attached (no ``permissionMode`` in stream mode), or nobody (claude's own rules)."""
        if self.mode is not LaunchMode.STREAM or not self.conversation_flags:
            return Ask.CLIENT if self.permission_mode == "ask" else Ask.NEVER
        if self.permission_mode == "ask":
            return Ask.CLIENT
        if self.permission_mode is None and not bypass_from_env():
            return Ask.PERSON
        return Ask.NEVER

    @property
    def permission_prompts(self) -> bool:
        return self.asks is not Ask.NEVER and self.mode is LaunchMode.STREAM

    def _head(self) -> list[str]:
        head = [self.executable]
        if self.model:
            head += [self.model_flag, self.model]
        if self.system_prompt:
            head += ["--append-system-prompt", self.system_prompt]
        if self.permission_prompts:
            head += ["--permission-prompt-tool", "stdio"]
        elif self.permission_mode not in (None, "ask"):
            head += ["--permission-mode", str(self.permission_mode)]
        elif bypass_from_env():
            head += ["--permission-mode", "bypassPermissions"]
        return head

    def _conversation(self, resume: bool) -> list[str]:
        """``--session-id ID`` (the daemon chose it) or ``--resume ID``."""
        if not self.conversation_flags or self.conversation_id is None:
            return []
        return ["--resume" if resume else "--session-id", self.conversation_id]

    def _schema(self) -> list[str]:
        if not self.per_turn or self.output_schema is None:
            return []  # a stream process outlives the turn: the schema is in the prompt
        return ["--json-schema", json.dumps(self.output_schema)]

    def first_argv(self, prompt: str) -> list[str]:
        # ``--print`` last: claude starts 140-200 ms sooner than with it first.
        if self.mode is LaunchMode.STREAM:
            return [*self._head(), *self._conversation(self.resume), *self.stream_args]
        if self.mode is LaunchMode.NON_INTERACTIVE:
            flags = [*self._conversation(self.resume), *self._schema()]
            return [*self._head(), *flags, *PRINT_ARGS, "--", prompt]
        return [*self._head(), *(["--", prompt] if prompt else [])]  # a bare TUI

    def next_argv(self, prompt: str) -> list[str]:
        flags = [*self._conversation(True), *self._schema()]
        return [*self._head(), *flags, *PRINT_ARGS, "--", prompt]

    def prompt_stdin(self, prompt: str) -> bytes | None:
        return user_line(prompt) if self.mode is LaunchMode.STREAM else None

    def turn_input(self, text: str) -> bytes | None:
        return user_line(text) if self.mode is LaunchMode.STREAM else None

    def interrupt(self) -> bytes | None:
        """Stop the running turn (the CLI answers with an ``error_during_execution``
        result); closing stdin alone would let it finish the turn first."""
        if self.mode is not LaunchMode.STREAM:
            return None
        self.events.interrupting = True
        request = {"subtype": "interrupt"}
        return (
            dumps({"type": "control_request", "request_id": "coven-interrupt", "request": request})
            + b"\n"
        )

    def control_response(
        self, request: dict[str, Any], allow: bool, choice: str | None
    ) -> bytes | None:
        action = request.get("action") or {}
        tool_input: dict[str, Any] = (
            action["input"] if isinstance(action.get("input"), dict) else {}
        )
        inner: dict[str, Any]
        if allow:
            updated = dict(tool_input)
            if request.get("kind") == "question":  # AskUserQuestion: the answers go in
                questions = updated.get("questions") or []
                updated["answers"] = {
                    str(q.get("question")): choice or "" for q in questions if isinstance(q, dict)
                }
            inner = {"behavior": "allow", "updatedInput": updated}
        else:
            self.events.denied.add(str(action.get("callId", "")))
            inner = {"behavior": "deny", "message": "The user denied this tool call."}
        response = {
            "type": "control_response",
            "response": {
                "subtype": "success",
                "request_id": request.get("requestId"),
                "response": inner,
            },
        }
        return dumps(response) + b"\n"

    def forget_conversation(self) -> None:
        super().forget_conversation()
        if self.conversation_flags:  # the daemon names the next one, as at launch
            self.conversation_id = str(uuid.uuid4())

    def begin_turn(self, turn_id: str) -> None:
        self.events.begin_turn()

    def translate(self, line: bytes) -> list[Entry]:
        entries = self.events.translate(line)
        if self.events.conversation_id is not None:
            self.conversation_id = self.events.conversation_id
        return entries
