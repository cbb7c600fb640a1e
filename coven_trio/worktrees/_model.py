"""The records: a session's worktree, what it changed, what a merge did; and where a
worktree lives and what its branch is called (pure functions of the ids).

A :class:`Worktree` is all any operation needs, so one saved with the session record
still works after the session ended and after the daemon restarted.
"""

from __future__ import annotations

import hashlib
import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import attrs

from ..models import camel, structure, unstructure

#: Where the daemon keeps worktrees, under its home.
WORKTREES_DIR = "worktrees"
#: Every session branch is under this prefix.
BRANCH_PREFIX = "coven/"
#: Characters of the session id in its branch name.
SHORT_ID_LENGTH = 8

_SESSION_ID = re.compile(r"[A-Za-z0-9_-]+")


class Strategy(StrEnum):
    """How a session's commits reach its base branch."""

    #: A merge commit naming the session (always one, so history shows the session).
    MERGE = "merge"
    #: The session's commits replayed on top of the base branch, which fast-forwards.
    REBASE = "rebase"


class ChangeKind(StrEnum):
    """What happened to one path (git's raw status letters, in words)."""

    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"
    RENAMED = "renamed"
    COPIED = "copied"
    TYPECHANGE = "typechange"
    UNMERGED = "unmerged"
    UNKNOWN = "unknown"


_KINDS = {
    "A": ChangeKind.ADDED,
    "M": ChangeKind.MODIFIED,
    "D": ChangeKind.DELETED,
    "R": ChangeKind.RENAMED,
    "C": ChangeKind.COPIED,
    "T": ChangeKind.TYPECHANGE,
    "U": ChangeKind.UNMERGED,
}


def change_kind(letter: str) -> ChangeKind:
    return _KINDS.get(letter[:1], ChangeKind.UNKNOWN)


@camel
@attrs.frozen
class Worktree:
    """A session's worktree. On the wire (camelCase)::

        {"sessionId": "ses_01…", "repo": "/src/app", "path": "<home>/worktrees/app-…/ses_01…",
         "branch": "coven/abcd1234", "base": "<sha>", "baseRef": "refs/heads/main"}

    ``repo`` is the main checkout (the top of ``projectRoot``'s working tree); ``base``
    the commit the session started from; ``baseRef`` the branch it merges into (None
    when the session started from a tag, a commit or a detached HEAD)."""

    session_id: str
    repo: str
    path: str
    branch: str
    base: str
    base_ref: str | None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = unstructure(self)
        return data

    @classmethod
    def from_json(cls, data: Any) -> Worktree:
        return structure(data, cls)

    def cwd_for(self, project_root: str) -> str:
        """Where in the worktree a harness launched at ``project_root`` runs: the same
        folder relative to the repository's top (the top itself if it is outside)."""
        relative = os.path.relpath(os.path.realpath(project_root), self.repo)
        if relative == "." or relative.startswith(".."):
            return self.path
        return os.path.join(self.path, relative)


@camel
@attrs.frozen
class FileChange:
    """One path of a diff. ``insertions``/``deletions`` are None for a binary file."""

    path: str
    change: ChangeKind
    insertions: int | None
    deletions: int | None
    binary: bool
    old_path: str | None = None


@camel
@attrs.frozen
class DiffStat:
    files_changed: int
    insertions: int
    deletions: int
    files: list[FileChange]


@camel
@attrs.frozen
class WorktreeDiff:
    """What the session changed against ``base``, uncommitted and untracked files
    included; ``tree`` is the snapshot of the worktree that was compared. ``patch`` (the
    unified diff, when asked for) is text: bytes that are not UTF-8 become U+FFFD, and a
    binary file is one ``Binary files … differ`` line."""

    base: str
    tree: str
    stat: DiffStat
    patch: str | None = None


@camel
@attrs.frozen
class MergeResult:
    """What a merge did. ``merged`` is False when there was nothing to merge (``commit``
    is then the unchanged tip). ``sessionCommit`` is the commit made of the worktree's
    uncommitted changes, if it had any. ``checkout`` is False when only the base branch's
    ref moved (it was checked out nowhere). ``files``: paths the base branch changed."""

    strategy: Strategy
    merged: bool
    commit: str
    previous: str
    session_commit: str | None
    checkout: bool
    files: list[str]


@camel
@attrs.frozen
class WorktreeState:
    """What of a worktree is still there (for recovery after something was removed)."""

    repository: bool
    folder: bool
    registered: bool
    branch: str | None  # the branch's tip, None when the branch is gone

    @property
    def complete(self) -> bool:
        return self.repository and self.folder and self.registered and self.branch is not None


@camel
@attrs.frozen
class Discarded:
    """What ``discard`` removed: the folder (False: it was already gone) and the branch
    (its last tip, to recover from with ``git branch <name> <sha>``; None: already gone)."""

    removed_folder: bool
    deleted_branch: str | None


def short_id(session_id: str) -> str:
    """The session's id in its branch name: its last characters, lowercase."""
    kept = re.sub(r"[^a-z0-9]", "", session_id.lower())
    return kept[-SHORT_ID_LENGTH:] or "session"


def branch_name(session_id: str) -> str:
    return BRANCH_PREFIX + short_id(session_id)


def project_key(repo: str) -> str:
    """A folder name per repository: readable (its basename) and unique (a hash of its
    canonical path), stable across restarts."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(repo))[:40].lstrip(".") or "repo"
    digest = hashlib.sha256(os.fsencode(repo)).hexdigest()[:12]
    return f"{name}-{digest}"


def worktree_path(home: str | Path, repo: str, session_id: str) -> str:
    """``<home>/worktrees/<project key>/<session id>``."""
    if not _SESSION_ID.fullmatch(session_id):
        raise ValueError(f"not a session id: {session_id!r}")
    return os.path.join(os.path.abspath(home), WORKTREES_DIR, project_key(repo), session_id)
