"""What a session needs from a harness: argv per process, what to write on stdin, and
how to read what comes back. One :class:`Driver` instance per session holds the harness's
conversation state (its native session or thread id, the tool names seen this turn).

Two kinds of output:

* **structured** drivers (claude stream-json, codex ``exec --json``) get stdout line by
  line and translate each native line into journal entries (spec §2), keeping unknown
  ones as ``harness.event {native}``;
* **raw** drivers (PTY sessions, ``command``, plain manifests) get stdout chunks, which
  the session journals as ``output {data}``.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from .._json import dumps, loads_line
from ..errors import InvalidRequest
from ..vocabulary import Ask, Entry, EntryType, LaunchMode

_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")


def model_id(model: str | None) -> str | None:
    """Coven's ``strip_provider``: ``openai/gpt-5`` → ``gpt-5``; refuses unsafe ids."""
    if model is None or not model.strip():
        return None
    model = model.strip()
    head, sep, rest = model.partition("/")
    if sep and head and rest:
        model = rest
    if not _MODEL.match(model) or ".." in model:
        raise InvalidRequest(f"model id `{model}` is not allowed", details={"model": model})
    return model


def user_line(text: str) -> bytes:
    """One stream-json user message (Claude's ``--input-format stream-json``)."""
    message = {
        "type": "user",
        "message": {"role": "user", "content": [{"type": "text", "text": text}]},
    }
    return dumps(message) + b"\n"


#: A harness's JSON object line, or None for anything else (text, a scalar, JSON that
#: breaks the strict rules of :mod:`coven_trio._json`, which then reads as text).
parse_json_line = loads_line


def text_entries(line: bytes) -> list[Entry]:
    """A structured harness's line that is not JSON: its text as ``output`` (blank
    lines dropped)."""
    text = line.decode("utf-8", "replace")
    return [(EntryType.OUTPUT, {"data": text + "\n"})] if text.strip() else []


@attrs.define
class Driver:
    """Base: a raw-output harness with one process for the whole session."""

    executable: str
    mode: LaunchMode
    model: str | None = None
    #: The harness's own conversation id (claude ``session_id``, codex ``thread_id``).
    conversation_id: str | None = None
    #: The first process continues ``conversation_id`` (rather than starting it).
    resume: bool = False
    #: Instructions for the whole session (an agent profile's ``systemPrompt``).
    system_prompt: str | None = None

    #: Output is translated line by line (True) or journaled raw (False).
    structured: bool = False
    #: Each turn is its own process (codex ``exec``, claude ``--print``).
    per_turn: bool = False
    #: The JSON Schema the next turn's answer must match. A per-turn CLI that has native
    #: structured output gets it in that turn's argv (the daemon still validates).
    output_schema: dict[str, Any] | None = None

    @property
    def use_pty(self) -> bool:
        return self.mode is LaunchMode.INTERACTIVE

    @property
    def asks(self) -> Ask:
        """Who answers the harness's permission questions (most harnesses ask none)."""
        return Ask.NEVER

    @property
    def has_turns(self) -> bool:
        """Turns end by the harness saying so (not just by the process exiting)."""
        return self.structured

    def first_argv(self, prompt: str) -> list[str]:
        raise NotImplementedError

    def next_argv(self, prompt: str) -> list[str]:
        """argv of a follow-up turn's process (``per_turn`` drivers)."""
        raise NotImplementedError

    def prompt_stdin(self, prompt: str) -> bytes | None:
        """Bytes to write on stdin when a turn's process starts, if any."""
        return None

    #: Close stdin once :meth:`prompt_stdin` was written (codex reads the prompt to EOF).
    close_stdin_after_prompt: bool = False
    #: Closing stdin asks the process to finish (so stopping it starts there, with a
    #: grace); False where stdin is already closed or means nothing (straight to SIGTERM).
    stops_on_eof: bool = True

    def turn_input(self, text: str) -> bytes | None:
        """Bytes that start a follow-up turn on the live process; None if the driver
        cannot take a turn on stdin."""
        return None

    def control_response(
        self, request: dict[str, Any], allow: bool, choice: str | None
    ) -> bytes | None:
        """The answer to one of the harness's ``input.requested`` requests (``choice``:
        the option or text a question was answered with); None if it asks none."""
        return None

    def interrupt(self) -> bytes | None:
        """A line that stops the running turn at once (before stdin is closed on kill);
        None if the harness has no such thing."""
        return None

    def forget_conversation(self) -> None:
        """The next process starts a new conversation (eve's clear)."""
        self.conversation_id = None
        self.resume = False

    def close(self) -> None:
        """The session is over: drop whatever the driver keeps outside memory."""

    def begin_turn(self, turn_id: str) -> None:
        """Turn ``turn_id`` starts: reset per-turn translation state."""

    def translate(self, line: bytes) -> list[Entry]:
        """Native output line → journal entries (structured drivers)."""
        return [(EntryType.OUTPUT, {"data": line.decode("utf-8", "replace") + "\n"})]

    def finish(self) -> list[Entry]:
        """The process's output ended: whatever translation still holds."""
        return []

    def translate_stderr(self, line: bytes) -> list[Entry]:
        return [(EntryType.STDERR, {"text": line.decode("utf-8", "replace")})]
