"""External sessions: runs Coven lists but does not supervise (``POST /sessions/external``).

Another program (an editor, a CI job) registers its own agent run so it shows up beside
the daemon's sessions, and reports its end (``POST /sessions/:id/complete``). There is
no process and no journal: only the record, kept in memory and in the store.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from .._clock import utc_now
from ..errors import InvalidRequest
from ..vocabulary import SessionStatus

#: An external session's id (it is a URL segment): printable, no slash, 1-200 chars.
EXTERNAL_ID = re.compile(r"[A-Za-z0-9._:@+-]{1,200}")
#: At most this many external sessions are kept in memory (the store keeps the rest).
MAX_EXTERNAL = 10_000


def _text(payload: dict[str, Any], field: str) -> str:
    value = payload.get(field)
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"request body requires string field `{field}`")
    return value.strip()


def external_record(payload: dict[str, Any]) -> dict[str, Any]:
    """The record a registration describes (Coven's fields and defaults)."""
    session_id = _text(payload, "id")
    if not EXTERNAL_ID.fullmatch(session_id):
        raise InvalidRequest(
            "`id` must be 1-200 characters of A-Z a-z 0-9 . _ : @ + -",
            details={"fields": ["id"]},
        )
    labels = payload.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise InvalidRequest("`labels` must be an array of strings", details={"fields": ["labels"]})
    title = payload.get("title")
    transcript = payload.get("transcriptPath")
    now = utc_now()
    return {
        "id": session_id,
        "project_root": _text(payload, "projectRoot"),
        "harness": _text(payload, "harness"),
        "title": title.strip() if isinstance(title, str) and title.strip() else "External session",
        "status": SessionStatus.RUNNING.value,
        "exit_code": None,
        "archived_at": None,
        "created_at": now,
        "updated_at": now,
        "conversation_id": None,
        "familiar_id": None,
        "execution_binding": None,
        "labels": labels,
        "visibility": "private",
        "external": True,
        "transcript_path": transcript if isinstance(transcript, str) else None,
    }


def completed(record: dict[str, Any], exit_code: int | None) -> dict[str, Any]:
    """The record after ``complete``: failed for a non-zero exit code, else completed."""
    failed = exit_code is not None and exit_code != 0
    status = SessionStatus.FAILED if failed else SessionStatus.COMPLETED
    return {**record, "status": status.value, "exit_code": exit_code, "updated_at": utc_now()}


@attrs.define
class Externals:
    """The external sessions this daemon registered, newest last."""

    records: dict[str, dict[str, Any]] = attrs.field(factory=dict)

    def keep(self, record: dict[str, Any]) -> None:
        self.records[record["id"]] = record
        while len(self.records) > MAX_EXTERNAL:  # the oldest go (the store has them)
            self.records.pop(next(iter(self.records)))
