"""What can go wrong with a session's worktree, each with its stable code and status.

400: the launch asked for something git cannot give (no repository, no such base).
409: the repository is not in a state where the operation is safe (a conflict, a dirty
main checkout, unmerged work, something removed by hand); nothing was changed.
500: git itself failed; the message carries git's own stderr.
"""

from __future__ import annotations

from ..errors import CovenError, ErrorCode


class NotARepository(CovenError):
    """``projectRoot`` is not a checkout with a commit: not a repository, a bare one,
    or one with no commits yet."""

    status = 400
    code = ErrorCode.WORKTREE_NOT_A_REPOSITORY


class UnknownBase(CovenError):
    """The ``base`` of a launch names no commit."""

    status = 400
    code = ErrorCode.WORKTREE_UNKNOWN_BASE


class WorktreeExists(CovenError):
    """The session's folder or branch is already there (never reused: it may hold work)."""

    status = 409
    code = ErrorCode.WORKTREE_EXISTS


class WorktreeMissing(CovenError):
    """Something the operation needs was removed by hand: the folder, the branch, or the
    repository itself. ``details`` says which; the message says how to recover."""

    status = 409
    code = ErrorCode.WORKTREE_MISSING


class MergeConflict(CovenError):
    """The session's changes conflict with the base branch; ``details.files`` lists the
    conflicting paths. Nothing was changed."""

    status = 409
    code = ErrorCode.WORKTREE_CONFLICT


class MainCheckoutDirty(CovenError):
    """The main checkout has uncommitted changes to tracked files (or untracked files
    where the merge would write); ``details.files`` lists them. Never stashed."""

    status = 409
    code = ErrorCode.WORKTREE_MAIN_DIRTY


class BaseNotCheckedOut(CovenError):
    """There is no safe place to merge into: the session's base is not a branch, or the
    branch is checked out in another worktree than the main checkout."""

    status = 409
    code = ErrorCode.WORKTREE_BASE_NOT_CHECKED_OUT


class Unmerged(CovenError):
    """``discard`` without ``force`` of a session whose work is not in its base yet."""

    status = 409
    code = ErrorCode.WORKTREE_UNMERGED


class GitFailed(CovenError):
    """A git command failed where it should not have (or git could not run at all)."""

    status = 500
    code = ErrorCode.WORKTREE_GIT_FAILED


class NoWorktree(CovenError):
    """The session has no worktree: launched without ``isolation``, or discarded."""

    status = 400
    code = ErrorCode.WORKTREE_NONE


class SessionStillLive(CovenError):
    """``discard`` of a live session without ``kill``: its harness works in the folder."""

    status = 409
    code = ErrorCode.WORKTREE_SESSION_LIVE
