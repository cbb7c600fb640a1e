"""A git worktree per session: the session's harness works on its own branch in its own
folder, and its work reaches the project only through :func:`merge`.

A :class:`Worktree` record is all every operation needs (save it with the session:
:meth:`Worktree.to_json` / :meth:`Worktree.from_json`). Every git command runs through
the daemon's reaper, one operation per repository at a time. docs/worktrees.md is the
reference: the folders, each operation's git commands, conflicts, and recovery.
"""

from __future__ import annotations

from ._errors import (
    BaseNotCheckedOut,
    GitFailed,
    MainCheckoutDirty,
    MergeConflict,
    NotARepository,
    NoWorktree,
    SessionStillLive,
    UnknownBase,
    Unmerged,
    WorktreeExists,
    WorktreeMissing,
)
from ._git import FALLBACK_EMAIL, FALLBACK_NAME, GIT_TIMEOUT
from ._lifecycle import create, discard, exists, is_merged, restore, state
from ._merge import merge
from ._model import (
    BRANCH_PREFIX,
    WORKTREES_DIR,
    ChangeKind,
    DiffStat,
    Discarded,
    FileChange,
    MergeResult,
    Strategy,
    Worktree,
    WorktreeDiff,
    WorktreeState,
    branch_name,
    project_key,
    short_id,
    worktree_path,
)
from ._snapshot import diff

__all__ = [
    "BRANCH_PREFIX",
    "FALLBACK_EMAIL",
    "FALLBACK_NAME",
    "GIT_TIMEOUT",
    "WORKTREES_DIR",
    "BaseNotCheckedOut",
    "ChangeKind",
    "DiffStat",
    "Discarded",
    "FileChange",
    "GitFailed",
    "MainCheckoutDirty",
    "MergeConflict",
    "MergeResult",
    "NoWorktree",
    "NotARepository",
    "SessionStillLive",
    "Strategy",
    "UnknownBase",
    "Unmerged",
    "Worktree",
    "WorktreeDiff",
    "WorktreeExists",
    "WorktreeMissing",
    "WorktreeState",
    "branch_name",
    "create",
    "diff",
    "discard",
    "exists",
    "is_merged",
    "merge",
    "project_key",
    "restore",
    "short_id",
    "state",
    "worktree_path",
]
