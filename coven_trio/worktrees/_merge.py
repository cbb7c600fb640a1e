"""Bringing a session's work into its base branch, or refusing with nothing changed.

Everything that can refuse is decided in the object store first: the worktree's
uncommitted changes become a commit object nothing points at, the merge (or every
rebased commit) is computed with ``git merge-tree --write-tree``, and the main checkout
is checked for changes and for untracked files in the way. Only then do refs, the main
checkout and the worktree's index move, and a failure there is rolled back.
"""

from __future__ import annotations

import os

import trio

from ._errors import BaseNotCheckedOut, MainCheckoutDirty, MergeConflict, WorktreeMissing
from ._git import (
    changed_tracked,
    checkouts,
    commit_tree,
    git,
    identity,
    is_ancestor,
    merge_tree,
    realpaths,
    repo_lock,
    resolve,
    split_z,
    tree_of,
)
from ._model import MergeResult, Strategy, Worktree
from ._snapshot import changed_paths, snapshot
from ._state import require

_SCAFFOLD_MESSAGE = b"coven: scaffold for a rebase (never referenced)\n"


def session_commit_message(wt: Worktree) -> bytes:
    return f"coven: work of session {wt.session_id}\n".encode()


def merge_commit_message(wt: Worktree) -> bytes:
    return f"Merge coven session {wt.session_id} ({wt.branch})\n".encode()


async def merge(wt: Worktree, strategy: Strategy = Strategy.MERGE) -> MergeResult:
    """Commit the worktree's uncommitted changes, then merge (a merge commit naming the
    session) or rebase (the session's commits replayed, the base fast-forwarded) them
    into the base branch. Raises :class:`MergeConflict`, :class:`MainCheckoutDirty`,
    :class:`BaseNotCheckedOut` or :class:`WorktreeMissing` with nothing changed."""
    async with repo_lock(wt.repo):
        await require(wt, folder=True, branch=True)
        on = await git(["symbolic-ref", "-q", "HEAD"], cwd=wt.path, ok=(0, 1))
        if on.stdout.decode().strip() != f"refs/heads/{wt.branch}":
            raise WorktreeMissing(
                f"the worktree of session {wt.session_id} is not on its branch {wt.branch} "
                "any more; check the branch out there again",
                details={"path": wt.path, "branch": wt.branch},
            )
        base_ref = wt.base_ref
        if base_ref is None:
            raise BaseNotCheckedOut(
                f"session {wt.session_id} started from {wt.base[:12]}, not from a branch: "
                "there is no branch to merge into",
                details={"base": wt.base},
            )
        target = await resolve(base_ref, cwd=wt.repo)
        if target is None:
            raise BaseNotCheckedOut(
                f"the base branch {base_ref} no longer exists", details={"baseRef": base_ref}
            )
        checkout = await _checkout_of(wt, base_ref)
        if checkout is not None and (dirty := await changed_tracked(checkout)):
            raise MainCheckoutDirty(
                f"the main checkout {checkout} has uncommitted changes: " + ", ".join(dirty),
                details={"checkout": checkout, "files": dirty},
            )

        snap = await snapshot(wt)
        assert snap.head is not None  # the branch exists and is checked out
        env = await identity(wt.repo)
        session_commit = None
        tip = snap.head
        if snap.tree != await tree_of(snap.head, cwd=wt.path):
            tip = session_commit = await commit_tree(
                snap.tree, [snap.head], session_commit_message(wt), cwd=wt.path, env=env
            )
        if await is_ancestor(tip, target, cwd=wt.repo):  # nothing to merge
            return MergeResult(strategy, False, target, target, None, checkout is not None, [])
        if strategy is Strategy.MERGE:
            tree, conflicts = await merge_tree(target, tip, cwd=wt.repo)
            _raise_conflicts(wt, strategy, conflicts, tip)
            new = await commit_tree(
                tree, [target, tip], merge_commit_message(wt), cwd=wt.repo, env=env
            )
        else:
            new = await _replay(wt, target, tip, env)
        if checkout is not None and (blocking := await _in_the_way(checkout, target, new)):
            raise MainCheckoutDirty(
                f"untracked files in the main checkout {checkout} are where the merge "
                "would write: " + ", ".join(blocking),
                details={"checkout": checkout, "files": blocking},
            )

        # Decided: from here on, refs and files move (and move back on a failure).
        await _apply(wt, checkout, base_ref, snap.head, session_commit, (target, new), strategy)
        return MergeResult(
            strategy=strategy,
            merged=new != target,
            commit=new,
            previous=target,
            session_commit=session_commit,
            checkout=checkout is not None,
            files=await changed_paths(target, new, cwd=wt.repo),
        )


async def _apply(
    wt: Worktree,
    checkout: str | None,
    base_ref: str,
    head: str,
    session_commit: str | None,
    move: tuple[str, str],
    strategy: Strategy,
) -> None:
    """The session's branch takes its commit, then the base branch (and its checkout)
    moves; if that fails, the session's branch moves back. The worktree's index follows
    last, once nothing can be undone any more."""
    target, new = move
    reflog = f"coven: {strategy} session {wt.session_id}"
    branch_ref = f"refs/heads/{wt.branch}"
    if session_commit is not None:
        await git(["update-ref", "-m", reflog, branch_ref, session_commit, head], cwd=wt.repo)
    try:
        if new != target:
            await _advance(wt.repo, checkout, base_ref, target, new, reflog)
    except BaseException:
        if session_commit is not None:
            with trio.CancelScope(shield=True):
                undo = ["update-ref", "-m", f"{reflog}: undone", branch_ref, head, session_commit]
                await git(undo, cwd=wt.repo)
        raise
    if session_commit is not None:
        # Best effort: the merge is done, and a stale index (a harness holding its
        # index.lock) loses nothing: the files are kept, status shows them as changes.
        await git(["reset", "-q"], cwd=wt.path, ok=(0, 1, 128))


def _raise_conflicts(wt: Worktree, strategy: Strategy, files: list[str], commit: str) -> None:
    if files:
        raise MergeConflict(
            f"session {wt.session_id} conflicts with {wt.base_ref} in: " + ", ".join(files),
            details={"files": files, "strategy": str(strategy), "commit": commit},
        )


async def _checkout_of(wt: Worktree, base_ref: str) -> str | None:
    """The main checkout if it has ``base_ref`` checked out; None if no working tree has
    it (then only the ref moves, which is as safe as ``git fetch . a:b``). Any other
    case is refused: moving a branch under another working tree would desync it."""
    known = await checkouts(wt.repo)
    repo, *paths = await realpaths(wt.repo, *(c.path for c in known))
    main = next((c for c, path in zip(known, paths, strict=True) if path == repo), None)
    if main is not None and main.branch == base_ref:
        return wt.repo
    holder = next((c for c in known if c.branch == base_ref), None)
    if holder is not None:
        raise BaseNotCheckedOut(
            f"{base_ref} is checked out in {holder.path}, not in the main checkout {wt.repo}",
            details={"baseRef": base_ref, "checkedOutIn": holder.path},
        )
    return None


async def _replay(wt: Worktree, target: str, tip: str, env: dict[str, str]) -> str:
    """Rebase without a checkout: each commit of ``target..tip`` (merges dropped, as
    ``git rebase`` does) is cherry-picked in the object store. ``merge-tree`` finds its
    merge base itself, so each pick merges with a scaffold commit whose parents are the
    new tip and the picked commit's parent: their one best common ancestor is that
    parent, which makes it exactly a cherry-pick. A commit that becomes empty is dropped."""
    listing = await git(
        ["rev-list", "--reverse", "--topo-order", "--no-merges", "--parents", f"{target}..{tip}"],
        cwd=wt.repo,
    )
    current, current_tree = target, await tree_of(target, cwd=wt.repo)
    for line in listing.stdout.decode().splitlines():
        commit, *parents = line.split()
        parent = parents[0] if parents else None
        if parent is None:  # a root commit: history unrelated to the base
            tree, conflicts = await merge_tree(current, commit, cwd=wt.repo)
        else:
            scaffold = await commit_tree(
                current_tree, [current, parent], _SCAFFOLD_MESSAGE, cwd=wt.repo, env=env
            )
            tree, conflicts = await merge_tree(scaffold, commit, cwd=wt.repo)
        _raise_conflicts(wt, Strategy.REBASE, conflicts, commit)
        if tree == current_tree:
            continue
        raw = (await git(["cat-file", "commit", commit], cwd=wt.repo)).stdout
        header, _, message = raw.partition(b"\n\n")
        author = _author_env(header)
        current = await commit_tree(tree, [current], message, cwd=wt.repo, env=env | author)
        current_tree = tree
    return current


def _author_env(header: bytes) -> dict[str, str]:
    """A commit's author (name, email, date) as the environment ``commit-tree`` reads."""
    for line in header.split(b"\n"):
        if line.startswith(b"author "):
            ident = line[len(b"author ") :].decode("utf-8", "surrogateescape")
            name, _, rest = ident.partition(" <")
            email, _, date = rest.partition("> ")
            return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date}
    return {}


async def _in_the_way(checkout: str, target: str, new: str) -> list[str]:
    """Paths the merge adds where the checkout already has an untracked (or ignored)
    file, or a file where the merge needs a folder. ``read-tree`` would refuse them too;
    asked first, the refusal comes before anything moved."""
    done = await git(
        ["diff-tree", "-r", "-z", "--name-status", "--no-renames", target, new], cwd=checkout
    )
    fields = split_z(done.stdout)
    pairs = list(zip(fields[::2], fields[1::2], strict=True))
    deleted = {path for status, path in pairs if status == b"D"}
    added = [path for status, path in pairs if status == b"A"]
    root = os.fsencode(checkout)

    def blocked() -> list[str]:
        found = []
        for path in added:
            full = os.path.join(root, path)
            if os.path.lexists(full) and not any(d.startswith(path + b"/") for d in deleted):
                found.append(path)
                continue
            parts = path.split(b"/")
            for n in range(1, len(parts)):
                prefix = b"/".join(parts[:n])
                at = os.path.join(root, prefix)
                if prefix not in deleted and os.path.lexists(at) and not _is_real_dir(at):
                    found.append(prefix)
                    break
        return sorted({p.decode("utf-8", "replace") for p in found})

    return await trio.to_thread.run_sync(blocked)


def _is_real_dir(path: bytes) -> bool:
    return os.path.isdir(path) and not os.path.islink(path)


async def _advance(
    repo: str, checkout: str | None, base_ref: str, target: str, new: str, reflog: str
) -> None:
    """Move the base branch from ``target`` to ``new``: with its checkout (a two-way
    ``read-tree -m -u``, then HEAD, compare-and-swap), or the ref alone."""
    if checkout is None:
        await git(["update-ref", "-m", reflog, base_ref, new, target], cwd=repo)
        return
    await git(["update-index", "--refresh"], cwd=checkout, ok=(0, 1))
    await git(["read-tree", "-m", "-u", target, new], cwd=checkout)
    try:
        await git(["update-ref", "-m", reflog, "HEAD", new, target], cwd=checkout)
    except BaseException:
        with trio.CancelScope(shield=True):
            await git(["read-tree", "-m", "-u", new, target], cwd=checkout)
        raise
