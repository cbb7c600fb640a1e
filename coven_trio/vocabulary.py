"""The daemon's words as types: journal entry types, launch modes, built-in harness ids.

Each is a :class:`enum.StrEnum`, so a member *is* its wire string (it encodes, compares
and hashes as the string) while a typo is a type error. The session state machine's own
phases live with their transitions in :mod:`coven_trio.sessions._state`; error codes with
their classes in :mod:`coven_trio.errors`. This module imports nothing of the package, so
clients can use it without loading the daemon.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class EntryType(StrEnum):
    """Journal entry types (spec §2): one vocabulary for both API views."""

    SESSION_STARTED = "session.started"
    TURN_STARTED = "turn.started"
    MESSAGE_RECEIVED = "message.received"
    AGENT_START = "agent.start"
    AGENT_CONTENT_DELTA = "agent.content.delta"
    MESSAGE_APPENDED = "message.appended"
    #: The harness's reasoning (Claude's thinking, Codex's reasoning): streamed, then whole.
    AGENT_REASONING_DELTA = "agent.reasoning.delta"
    REASONING_APPENDED = "reasoning.appended"
    #: The harness retries its model API (``attempt``, ``maxRetries``, ``status``…).
    AGENT_RETRY = "agent.retry"
    #: A subagent's life (Claude's Task tool): started, updated, finished.
    AGENT_TASK = "agent.task"
    ACTIONS_REQUESTED = "actions.requested"
    ACTION_RESULT = "action.result"
    INPUT_REQUESTED = "input.requested"
    #: The client's answers reached the harness: ``resolutions [{requestId, outcome}]``.
    INPUT_RESOLVED = "input.resolved"
    RESULT_COMPLETED = "result.completed"
    AGENT_COMPLETE = "agent.complete"
    TURN_COMPLETED = "turn.completed"
    TURN_FAILED = "turn.failed"
    #: The client cancelled the turn (eve's cancel); the session goes on.
    TURN_CANCELLED = "turn.cancelled"
    #: The next turn starts a fresh harness conversation (eve's clear).
    CONTEXT_CLEARED = "context.cleared"
    #: The harness was asked to compact its conversation (eve's compact), and did.
    COMPACTION_REQUESTED = "compaction.requested"
    COMPACTION_COMPLETED = "compaction.completed"
    SESSION_WAITING = "session.waiting"
    SESSION_COMPLETED = "session.completed"
    SESSION_FAILED = "session.failed"
    OUTPUT = "output"
    OUTPUT_TRUNCATED = "output_truncated"
    INPUT = "input"
    KILL = "kill"
    EXIT = "exit"
    STDERR = "stderr"
    HARNESS_EVENT = "harness.event"


#: Entries that belong to a turn and carry its ``turnId``.
TURN_SCOPED = frozenset(
    {
        EntryType.TURN_STARTED,
        EntryType.MESSAGE_RECEIVED,
        EntryType.AGENT_START,
        EntryType.AGENT_CONTENT_DELTA,
        EntryType.MESSAGE_APPENDED,
        EntryType.AGENT_REASONING_DELTA,
        EntryType.REASONING_APPENDED,
        EntryType.AGENT_RETRY,
        EntryType.AGENT_TASK,
        EntryType.ACTIONS_REQUESTED,
        EntryType.ACTION_RESULT,
        EntryType.INPUT_REQUESTED,
        EntryType.INPUT_RESOLVED,
        EntryType.RESULT_COMPLETED,
        EntryType.AGENT_COMPLETE,
        EntryType.TURN_COMPLETED,
        EntryType.TURN_FAILED,
        EntryType.TURN_CANCELLED,
        EntryType.COMPACTION_REQUESTED,
        EntryType.COMPACTION_COMPLETED,
    }
)
#: Turn entries that also carry the turn's ``sequence``.
SEQUENCED = frozenset(
    {
        EntryType.TURN_STARTED,
        EntryType.MESSAGE_RECEIVED,
        EntryType.TURN_COMPLETED,
        EntryType.TURN_FAILED,
        EntryType.TURN_CANCELLED,
    }
)
#: A session's journal ends with exactly one of these.
TERMINAL = frozenset({EntryType.SESSION_COMPLETED, EntryType.SESSION_FAILED})


#: One journal entry before it is appended: ``(type, data)``; ``None`` data is omitted
#: from the line (``session.completed``).
Entry = tuple[EntryType, dict[str, Any] | None]


class FailureCode(StrEnum):
    """``code`` of ``turn.failed`` / ``session.failed`` entries (and of denied actions)."""

    KILLED = "killed"
    HARNESS_EXITED = "harness_exited"
    STOPPED = "stopped"
    LAUNCH_FAILED = "launch_failed"
    INTERNAL_ERROR = "internal_error"
    JOURNAL_FULL = "journal_full"
    ORPHANED = "orphaned"
    HARNESS_TURN_FAILED = "HARNESS_TURN_FAILED"
    OUTPUT_SCHEMA_NOT_FULFILLED = "OUTPUT_SCHEMA_NOT_FULFILLED"
    #: The model API failed (after the harness's own retries).
    MODEL_API_ERROR = "model_api_error"
    #: The turn was interrupted (kill, cancel) before it finished.
    INTERRUPTED = "interrupted"
    TOOL_EXECUTION_DENIED = "TOOL_EXECUTION_DENIED"


class ActionStatus(StrEnum):
    """``status`` of an ``action.result`` entry (a tool call's outcome)."""

    COMPLETED = "completed"
    FAILED = "failed"
    REJECTED = "rejected"


class SessionStatus(StrEnum):
    """A session's status as clients see it (the session state machine's phases map onto
    these: :mod:`coven_trio.sessions._state`)."""

    RUNNING = "running"
    #: Between turns, taking the next message (Coven's word; eve's stream says
    #: ``session.waiting``).
    IDLE = "idle"
    COMPLETED = "completed"
    FAILED = "failed"
    KILLED = "killed"
    #: It was live when a previous daemon stopped; its outcome is unknown.
    ORPHANED = "orphaned"


#: Statuses of a session that still takes input.
LIVE_STATUSES = frozenset({SessionStatus.RUNNING, SessionStatus.IDLE})


class LaunchMode(StrEnum):
    """How a harness runs (spec §4), in the order error messages list them."""

    INTERACTIVE = "interactive"
    NON_INTERACTIVE = "nonInteractive"
    STREAM = "stream"


class Ask(StrEnum):
    """Who answers a harness's permission questions (claude's stream asks the daemon
    through ``--permission-prompt-tool stdio``)."""

    #: Nobody is asked: the harness decides by its own rules (``permissionMode`` given).
    NEVER = "never"
    #: Every question goes to the session's clients (``permissionMode: ask``; eve's).
    CLIENT = "client"
    #: To a person attached to the session (a chat, the dashboard); with nobody there,
    #: the launch's own rule: the tool is not run (what the harness does unasked).
    PERSON = "person"


class HarnessId(StrEnum):
    """The built-in harnesses; manifests add ids of their own (plain strings)."""

    CLAUDE = "claude"
    CODEX = "codex"
    COMMAND = "command"
