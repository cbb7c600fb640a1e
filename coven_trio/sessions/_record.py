"""What the wire shows of a live session: the Rust daemon's ``SessionRecord`` fields, in
its order, plus ours."""

from __future__ import annotations

from typing import Any, Protocol

from ..harness import Driver
from ..journal import Journal
from ..models import SessionRecord
from ..vocabulary import LaunchMode, SessionStatus


class Described(Protocol):
    """What a record is made of (a :class:`~coven_trio.sessions.Session`)."""

    id: str
    harness: str
    project_root: str
    cwd: str
    title: str
    created_at: str
    launch_mode: LaunchMode
    resumed_from: str | None
    eve_stream_version: str | None
    worktree: dict[str, Any] | None
    driver: Driver
    journal: Journal

    @property
    def status(self) -> SessionStatus: ...
    @property
    def pid(self) -> int | None: ...
    @property
    def exit_code(self) -> int | None: ...
    @property
    def turns(self) -> int: ...


def session_record(session: Described) -> SessionRecord:
    """A killed session has no exit code (as Coven reports it), whatever its process
    answered to the interrupt or the signal."""
    killed = session.status is SessionStatus.KILLED
    return SessionRecord(
        id=session.id,
        project_root=session.project_root,
        harness=session.harness,
        title=session.title,
        status=session.status.value,
        exit_code=None if killed else session.exit_code,
        archived_at=None,
        created_at=session.created_at,
        updated_at=session.journal.last_at or session.created_at,
        conversation_id=session.driver.conversation_id,
        familiar_id=None,
        execution_binding=None,
        labels=[],
        visibility="private",
        external=False,
        transcript_path=None,
        cwd=session.cwd,
        launch_mode=session.launch_mode.value,
        pid=session.pid,
        turns=session.turns,
        event_count=len(session.journal),
        resumed_from=session.resumed_from,
        eve_stream_version=session.eve_stream_version,
        worktree=session.worktree,
    )
