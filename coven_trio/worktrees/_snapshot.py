"""A worktree as one tree, uncommitted and untracked files included, and its diff.

The snapshot is taken in a temporary index (``GIT_INDEX_FILE``): a copy of the
worktree's own index (its stat cache keeps ``add`` fast), then ``git add --all`` and
``git write-tree``. The worktree's index and files are never touched; the only trace is
new blob and tree objects, which ``git gc`` removes if nothing comes to use them.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import attrs
import trio

from ._git import git, out, path_text, repo_lock, resolve, split_z
from ._model import DiffStat, FileChange, Worktree, WorktreeDiff, change_kind
from ._state import require


@attrs.frozen
class Snapshot:
    head: str | None  # the worktree's HEAD commit; None when its branch is gone
    tree: str  # everything in the folder but what .gitignore ignores


async def snapshot(wt: Worktree) -> Snapshot:
    """The worktree's files as a tree. The caller holds the repository's lock."""
    index = await out(["rev-parse", "--git-path", "index"], cwd=wt.path)
    index = os.path.join(wt.path, index)  # relative to the folder, if relative
    head = await resolve("HEAD", cwd=wt.path)
    scratch = await trio.to_thread.run_sync(lambda: tempfile.mkdtemp(prefix="coven-index-"))
    try:
        temp_index = os.path.join(scratch, "index")
        env = {"GIT_INDEX_FILE": temp_index}
        copied = await trio.to_thread.run_sync(_copy_if_exists, index, temp_index)
        if not copied and head is not None:
            await git(["read-tree", head], cwd=wt.path, env=env)
        await git(["add", "--all"], cwd=wt.path, env=env)
        tree = await out(["write-tree"], cwd=wt.path, env=env)
    finally:
        await trio.to_thread.run_sync(lambda: shutil.rmtree(scratch, ignore_errors=True))
    return Snapshot(head=head, tree=tree)


def _copy_if_exists(source: str, target: str) -> bool:
    try:
        shutil.copyfile(source, target)
    except FileNotFoundError:
        return False
    return True


async def diff(wt: Worktree, *, patch: bool = False) -> WorktreeDiff:
    """What the session changed against its base, uncommitted changes and untracked (not
    ignored) files included; with ``patch``, the unified diff too. Needs the folder,
    not the session: it works after the session ended and after a restart. Raises
    :class:`WorktreeMissing` if the folder (or the repository) is gone."""
    async with repo_lock(wt.repo):
        await require(wt, folder=True, branch=False)
        snap = await snapshot(wt)
        stat = await diff_stat(wt.base, snap.tree, cwd=wt.path)
        text = None
        if patch:
            done = await git(["diff-tree", "-r", "-p", "-M", wt.base, snap.tree], cwd=wt.path)
            text = done.stdout.decode("utf-8", "replace")
    return WorktreeDiff(base=wt.base, tree=snap.tree, stat=stat, patch=text)


async def diff_stat(old: str, new: str, *, cwd: str) -> DiffStat:
    """``git diff-tree -r -z -M --raw --numstat``: the raw records (what happened to each
    path) come first, then the numstat records (counts; ``-`` for a binary file), in the
    same order."""
    done = await git(["diff-tree", "-r", "-z", "-M", "--raw", "--numstat", old, new], cwd=cwd)
    fields = split_z(done.stdout)
    kinds = []
    i = 0
    while i < len(fields) and fields[i].startswith(b":"):
        letter = fields[i].rsplit(b" ", 1)[-1].decode()
        kinds.append(change_kind(letter))
        i += 3 if letter[:1] in ("R", "C") else 2
    files: list[FileChange] = []
    while i < len(fields):
        added, deleted, path = fields[i].split(b"\t", 2)
        old_path = None
        if path:
            i += 1
        else:  # a rename or copy: both paths follow as fields of their own
            old_path, path = path_text(fields[i + 1]), fields[i + 2]
            i += 3
        binary = added == b"-"
        files.append(
            FileChange(
                path=path_text(path),
                change=kinds[len(files)],
                insertions=None if binary else int(added),
                deletions=None if binary else int(deleted),
                binary=binary,
                old_path=old_path,
            )
        )
    return DiffStat(
        files_changed=len(files),
        insertions=sum(f.insertions or 0 for f in files),
        deletions=sum(f.deletions or 0 for f in files),
        files=files,
    )


async def changed_paths(old: str, new: str, *, cwd: str) -> list[str]:
    done = await git(["diff-tree", "-r", "-z", "--name-only", old, new], cwd=cwd)
    return [path_text(p) for p in split_z(done.stdout)]
