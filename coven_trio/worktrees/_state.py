"""What of a worktree is still there, and a clear error when an operation needs a part a
person removed by hand (the folder, the branch, the repository)."""

from __future__ import annotations

import trio

from ._errors import WorktreeMissing
from ._git import checkouts, git, realpaths, resolve
from ._model import Worktree, WorktreeState


async def inspect(wt: Worktree) -> WorktreeState:
    """Look, change nothing: is the repository there, the folder, git's record of the
    worktree, the branch (its tip)?"""
    if not await trio.Path(wt.repo).is_dir():
        return WorktreeState(repository=False, folder=False, registered=False, branch=None)
    probe = await git(["rev-parse", "--git-dir"], cwd=wt.repo, ok=(0, 128))
    folder = await trio.Path(wt.path).is_dir()
    if probe.returncode != 0:
        return WorktreeState(repository=False, folder=folder, registered=False, branch=None)
    known = await checkouts(wt.repo)
    real, *paths = await realpaths(wt.path, *(c.path for c in known))
    registered = real in paths
    tip = await resolve(f"refs/heads/{wt.branch}", cwd=wt.repo)
    return WorktreeState(repository=True, folder=folder, registered=registered, branch=tip)


async def require(wt: Worktree, *, folder: bool, branch: bool) -> WorktreeState:
    """:func:`inspect`, raising :class:`WorktreeMissing` if the repository, or the folder
    (when ``folder``) or the branch (when ``branch``) is gone, with how to recover."""
    state = await inspect(wt)
    has_folder = state.folder and state.registered
    has_branch = state.branch is not None
    if state.repository and (has_folder or not folder) and (has_branch or not branch):
        return state
    raise missing(wt, state)


def missing(wt: Worktree, state: WorktreeState) -> WorktreeMissing:
    """The error for what ``state`` lacks, with how to recover."""
    return WorktreeMissing(
        _missing_message(wt, state),
        details={
            "path": wt.path,
            "branch": wt.branch,
            "repository": state.repository,
            "folder": state.folder,
            "registered": state.registered,
            "branchExists": state.branch is not None,
        },
    )


def _missing_message(wt: Worktree, state: WorktreeState) -> str:
    session = f"the worktree of session {wt.session_id}"
    if not state.repository:
        return f"{session}: its repository {wt.repo} is gone or no longer a git repository"
    if state.folder and not state.registered:
        return (
            f"{session}: git no longer knows the folder {wt.path} as a worktree "
            "(its record was removed); discard it to clean up"
        )
    if not state.folder and state.branch is None:
        return (
            f"{session}: both its folder {wt.path} and its branch {wt.branch} were removed; "
            "nothing is left to recover (discard clears git's record)"
        )
    if not state.folder:
        return (
            f"{session}: its folder {wt.path} was removed; restore checks branch "
            f"{wt.branch} out there again (uncommitted changes are lost), or discard it"
        )
    return (
        f"{session}: its branch {wt.branch} was deleted; restore re-creates it at the base "
        f"{wt.base[:12]} (the files in the folder are kept), or discard it"
    )
