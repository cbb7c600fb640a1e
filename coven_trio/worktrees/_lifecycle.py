"""A session's worktree from birth to removal: create, look, restore what a person
removed by hand, and discard (which refuses to lose work unless forced)."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import trio

from ..errors import InvalidRequest
from ._errors import NotARepository, UnknownBase, Unmerged, WorktreeExists
from ._git import git, is_ancestor, merge_tree, out, realpaths, repo_lock, resolve, tree_of
from ._model import (
    WORKTREES_DIR,
    Discarded,
    Worktree,
    WorktreeState,
    branch_name,
    worktree_path,
)
from ._snapshot import snapshot
from ._state import inspect, missing, require


async def create(
    home: str | Path, project_root: str, session_id: str, *, base: str | None = None
) -> Worktree:
    """A worktree for the session on a new branch ``coven/<short id>``, from the
    project's HEAD or from ``base`` (any commit-ish), in
    ``<home>/worktrees/<project key>/<session id>``. Raises :class:`NotARepository`,
    :class:`UnknownBase` (400) or :class:`WorktreeExists` (409)."""
    root = str(await trio.Path(project_root).absolute())
    if not await trio.Path(root).is_dir():
        raise NotARepository(f"{root} is not a folder", details={"projectRoot": root})
    repo = await _checkout_top(root)
    head = await resolve("HEAD", cwd=repo)
    if head is None:
        raise NotARepository(
            f"{repo} has no commits yet: a worktree needs one to start from",
            details={"projectRoot": root},
        )
    base_sha, base_ref = await _base(repo, head, base)
    path = worktree_path(home, repo, session_id)
    if (await realpaths(path))[0].startswith(repo + os.sep):
        raise InvalidRequest(
            f"the daemon's home is inside the project {repo}: worktrees must live outside it",
            details={"projectRoot": root, "path": path},
        )
    branch = branch_name(session_id)
    async with repo_lock(repo):
        taken = await git(
            ["show-ref", "--verify", "-q", f"refs/heads/{branch}"], cwd=repo, ok=(0, 1)
        )
        if await trio.Path(path).exists() or taken.returncode == 0:
            raise WorktreeExists(
                f"the worktree {path} or the branch {branch} already exists",
                details={"path": path, "branch": branch},
            )
        await trio.Path(path).parent.mkdir(parents=True, exist_ok=True)
        await git(
            ["worktree", "add", "--quiet", "--no-track", "-b", branch, path, base_sha], cwd=repo
        )
    return Worktree(session_id, repo, path, branch, base_sha, base_ref)


async def _checkout_top(root: str) -> str:
    """The top of the working tree ``root`` is in (canonical), or :class:`NotARepository`."""
    kind = await git(
        ["rev-parse", "--is-bare-repository", "--is-inside-work-tree"], cwd=root, ok=(0, 128)
    )
    if kind.returncode != 0:
        stderr = kind.stderr.decode("utf-8", "replace").strip()
        raise NotARepository(
            f"{root} is not in a git repository", details={"projectRoot": root, "stderr": stderr}
        )
    bare, inside = kind.stdout.decode().split()
    if bare == "true" or inside != "true":
        what = "a bare repository" if bare == "true" else "inside a .git folder"
        raise NotARepository(
            f"{root} is {what}: a worktree needs a checkout to start from",
            details={"projectRoot": root},
        )
    return (await realpaths(await out(["rev-parse", "--show-toplevel"], cwd=root)))[0]


async def _base(repo: str, head: str, base: str | None) -> tuple[str, str | None]:
    """The commit to start from and the branch to merge into (None: not a branch)."""
    if base is None or base == "HEAD":
        current = await git(["symbolic-ref", "-q", "HEAD"], cwd=repo, ok=(0, 1))
        return head, current.stdout.decode().strip() or None
    sha = None if base.startswith("-") else await resolve(base, cwd=repo)
    if sha is None:
        raise UnknownBase(f"{base!r} names no commit in {repo}", details={"base": base})
    full = await git(["rev-parse", "--symbolic-full-name", base], cwd=repo, ok=(0, 128))
    name = full.stdout.decode().strip()
    return sha, name if full.returncode == 0 and name.startswith("refs/heads/") else None


async def state(wt: Worktree) -> WorktreeState:
    """What of the worktree is still there (nothing is changed)."""
    async with repo_lock(wt.repo):
        return await inspect(wt)


async def exists(wt: Worktree) -> bool:
    """The repository, the folder (known to git) and the branch are all there."""
    return (await state(wt)).complete


async def is_merged(wt: Worktree) -> bool:
    """Nothing of the session is missing from its base branch: no uncommitted changes,
    and the branch's tip is in the base branch or merging it would change nothing (after
    a rebase, the base has the same changes as other commits). Without a base branch,
    the base commit stands for it. Raises :class:`WorktreeMissing` if the repository is
    gone."""
    async with repo_lock(wt.repo):
        found = await require(wt, folder=False, branch=False)
        return not await _unmerged(wt, found)


async def _unmerged(wt: Worktree, found: WorktreeState) -> list[str]:
    """Why discarding would lose work (empty: it would not)."""
    reasons = []
    if found.folder and found.registered:
        snap = await snapshot(wt)
        if snap.tree != await tree_of(snap.head or wt.base, cwd=wt.repo):
            reasons.append("uncommitted changes")
    if found.branch is not None:
        target = (await resolve(wt.base_ref, cwd=wt.repo) if wt.base_ref else None) or wt.base
        if not await _contained(found.branch, target, cwd=wt.repo):
            reasons.append(f"commits not in {wt.base_ref or wt.base[:12]}")
    return reasons


async def _contained(tip: str, target: str, *, cwd: str) -> bool:
    if await is_ancestor(tip, target, cwd=cwd):
        return True
    tree, conflicts = await merge_tree(target, tip, cwd=cwd)
    return not conflicts and tree == await tree_of(target, cwd=cwd)


async def discard(wt: Worktree, *, force: bool = False) -> Discarded:
    """Remove the folder and the branch. Refuses (:class:`Unmerged`) while the session
    has work not in its base, unless ``force``. Whatever a person already removed by
    hand is skipped; git's record of a folder removed by hand is cleared (``git
    worktree remove`` of a missing folder; ``git worktree prune`` if that fails)."""
    async with repo_lock(wt.repo):
        found = await inspect(wt)
        if not found.repository:
            return Discarded(removed_folder=await _remove_folder(wt), deleted_branch=None)
        if not force and (reasons := await _unmerged(wt, found)):
            raise Unmerged(
                f"session {wt.session_id} has " + " and ".join(reasons) + "; merge it first, "
                "or discard with force",
                details={"reasons": reasons, "branch": wt.branch, "path": wt.path},
            )
        if found.registered:
            removed = await git(
                ["worktree", "remove", "--force", "--force", wt.path], cwd=wt.repo, ok=(0, 128)
            )
            if removed.returncode != 0:  # e.g. it holds submodules: remove it ourselves
                await _remove_folder(wt)
                await git(["worktree", "prune"], cwd=wt.repo)
        elif found.folder:
            await _remove_folder(wt)
        if found.branch is not None:
            await git(["branch", "-D", wt.branch], cwd=wt.repo)
        with contextlib.suppress(OSError):  # the project's folder, once it is empty
            await trio.Path(wt.path).parent.rmdir()
    return Discarded(removed_folder=found.folder, deleted_branch=found.branch)


async def _remove_folder(wt: Worktree) -> bool:
    """Delete the worktree's folder, only if it is where the daemon puts worktrees."""
    parts = Path(wt.path).parts
    if len(parts) < 3 or parts[-1] != wt.session_id or parts[-3] != WORKTREES_DIR:
        raise InvalidRequest(f"refusing to delete {wt.path}: not a folder of the daemon's")
    if not await trio.Path(wt.path).exists():
        return False
    await trio.to_thread.run_sync(shutil.rmtree, wt.path)
    return True


async def restore(wt: Worktree) -> WorktreeState:
    """Recover from a removal by hand: a removed folder is checked out again from the
    branch (uncommitted changes are lost with the folder); a deleted branch is
    re-created at the base (the folder's files still hold the work, now as uncommitted
    changes). Raises :class:`WorktreeMissing` when nothing is left to restore from."""
    async with repo_lock(wt.repo):
        found = await inspect(wt)
        lost = not found.folder and found.branch is None
        if not found.repository or lost or (found.folder and not found.registered):
            raise missing(wt, found)
        if found.branch is None:
            await git(
                ["update-ref", "-m", "coven: restore", f"refs/heads/{wt.branch}", wt.base, ""],
                cwd=wt.repo,
            )
        elif not found.folder:
            if found.registered:  # git's record of the removed folder
                await git(["worktree", "remove", "--force", "--force", wt.path], cwd=wt.repo)
            await trio.Path(wt.path).parent.mkdir(parents=True, exist_ok=True)
            await git(["worktree", "add", "--quiet", wt.path, wt.branch], cwd=wt.repo)
        return await inspect(wt)
