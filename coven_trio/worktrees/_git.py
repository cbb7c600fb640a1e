"""Running git: the real executable through the daemon's reaper, in the C locale, never
prompting, one operation per repository at a time.

Every answer is read from exit codes and plumbing output (``-z`` where paths appear),
never from git's messages, which are for people: they go into errors as they are.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

import attrs
import trio

from ..harness._process import Completed, SpawnError, run_command
from ._errors import GitFailed

#: Longest any one git command may take (a checkout or an ``add -A`` of a big tree).
GIT_TIMEOUT = 300.0
#: How much of git's stderr an error keeps.
STDERR_TAIL = 2000
#: The identity of the daemon's commits where git has none configured.
FALLBACK_NAME = "coven-trio"
FALLBACK_EMAIL = "coven-trio@localhost"

#: Inherited variables that would point git at another repository, index or object store.
_SCRUBBED = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)

_LOCKS: weakref.WeakValueDictionary[str, trio.Lock] = weakref.WeakValueDictionary()


@asynccontextmanager
async def repo_lock(repo: str) -> AsyncIterator[None]:
    """Serialize the daemon's git operations on ``repo`` (two merges into one branch at
    once would race on its ref and its checkout). The lock lives as long as a holder or
    a waiter does."""
    lock = _LOCKS.get(repo)
    if lock is None:
        lock = trio.Lock()
        _LOCKS[repo] = lock
    async with lock:
        yield


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The daemon's environment for git: C locale, no prompts, no optional index writes
    (``git status`` must not touch a checkout it only looks at)."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env.update(LC_ALL="C", GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0")
    if extra:
        env.update(extra)
    return env


async def git(
    args: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str] | None = None,
    stdin: bytes = b"",
    ok: tuple[int, ...] = (0,),
) -> Completed:
    """Run ``git <args>`` in ``cwd``; an exit code outside ``ok`` is :class:`GitFailed`."""
    argv = ["git", *args]
    try:
        done = await run_command(argv, cwd=cwd, env=git_env(env), stdin=stdin, timeout=GIT_TIMEOUT)
    except SpawnError as exc:
        raise GitFailed(str(exc), details={"argv": argv, "cwd": cwd}) from None
    except trio.TooSlowError:
        raise GitFailed(
            f"`git {args[0]}` took longer than {GIT_TIMEOUT:g}s",
            details={"argv": argv, "cwd": cwd},
        ) from None
    if done.returncode not in ok:
        stderr = done.stderr.decode("utf-8", "replace").strip()[-STDERR_TAIL:]
        raise GitFailed(
            f"`git {args[0]}` exited with {done.returncode}" + (f": {stderr}" if stderr else ""),
            details={"argv": argv, "cwd": cwd, "exitCode": done.returncode, "stderr": stderr},
        )
    return done


async def out(args: Sequence[str], *, cwd: str, env: Mapping[str, str] | None = None) -> str:
    """The first line of what a successful ``git <args>`` printed (a sha, a ref, a path)."""
    done = await git(args, cwd=cwd, env=env)
    return done.stdout.decode("utf-8", "surrogateescape").strip()


async def resolve(rev: str, *, cwd: str) -> str | None:
    """The sha of the commit ``rev`` names, or None (never an error)."""
    done = await git(["rev-parse", "-q", "--verify", f"{rev}^{{commit}}"], cwd=cwd, ok=(0, 1, 128))
    return done.stdout.decode().strip() if done.returncode == 0 else None


async def tree_of(commit: str, *, cwd: str) -> str:
    return await out(["rev-parse", "--verify", f"{commit}^{{tree}}"], cwd=cwd)


async def is_ancestor(ancestor: str, descendant: str, *, cwd: str) -> bool:
    done = await git(["merge-base", "--is-ancestor", ancestor, descendant], cwd=cwd, ok=(0, 1))
    return done.returncode == 0


async def realpaths(*paths: str) -> list[str]:
    """``os.path.realpath`` of each, off the event loop (it reads symlinks)."""
    return await trio.to_thread.run_sync(lambda: [os.path.realpath(p) for p in paths])


def split_z(data: bytes) -> list[bytes]:
    """NUL-terminated fields, as ``-z`` prints them."""
    fields = data.split(b"\0")
    return fields[:-1] if fields and fields[-1] == b"" else fields


def path_text(raw: bytes) -> str:
    """A path git printed, as text for a client (bytes that are not UTF-8 become U+FFFD)."""
    return raw.decode("utf-8", "replace")


@attrs.frozen
class Checkout:
    """One entry of ``git worktree list --porcelain -z``."""

    path: str
    head: str | None
    branch: str | None  # a full ref name; None when detached or bare


async def checkouts(repo: str) -> list[Checkout]:
    """Every working tree git knows for ``repo``'s repository, the main one first."""
    done = await git(["worktree", "list", "--porcelain", "-z"], cwd=repo)
    found: list[Checkout] = []
    fields: dict[str, str] = {}
    for raw in [*split_z(done.stdout), b""]:
        if raw:
            key, _, value = raw.decode("utf-8", "surrogateescape").partition(" ")
            fields[key] = value
        elif "worktree" in fields:
            found.append(Checkout(fields["worktree"], fields.get("HEAD"), fields.get("branch")))
            fields = {}
    return found


async def changed_tracked(checkout: str) -> list[str]:
    """Tracked paths with changes in ``checkout`` (staged or not, or unmerged)."""
    done = await git(["status", "--porcelain=v1", "-z", "--untracked-files=no"], cwd=checkout)
    files: list[str] = []
    fields = iter(split_z(done.stdout))
    for entry in fields:
        files.append(path_text(entry[3:]))
        if entry[:1] in (b"R", b"C"):  # a rename's source follows as its own field
            next(fields, None)
    return files


async def identity(repo: str) -> dict[str, str]:
    """Environment for the daemon's commits: empty where git has an identity (config, or
    the GIT_AUTHOR_*/GIT_COMMITTER_* variables), the fallback identity where it has none."""
    env: dict[str, str] = {}
    for key, fallback, ambient in (
        ("name", FALLBACK_NAME, ()),
        ("email", FALLBACK_EMAIL, ("EMAIL",)),
    ):
        done = await git(["config", "--get", f"user.{key}"], cwd=repo, ok=(0, 1))
        if done.returncode == 0 and done.stdout.strip():
            continue
        for role in ("AUTHOR", "COMMITTER"):
            var = f"GIT_{role}_{key.upper()}"
            if not os.environ.get(var) and not any(os.environ.get(a) for a in ambient):
                env[var] = fallback
    return env


async def commit_tree(
    tree: str,
    parents: Sequence[str],
    message: bytes,
    *,
    cwd: str,
    env: Mapping[str, str],
) -> str:
    """A commit object of ``tree`` (nothing points at it yet). Unsigned: a daemon
    cannot answer a passphrase prompt."""
    args = ["commit-tree", "--no-gpg-sign", tree]
    for parent in parents:
        args += ["-p", parent]
    done = await git(args, cwd=cwd, env=env, stdin=message)
    return done.stdout.decode().strip()


async def merge_tree(ours: str, theirs: str, *, cwd: str) -> tuple[str, list[str]]:
    """Merge two commits in the object store only (``git merge-tree --write-tree``):
    the resulting tree and the conflicting paths (none: a clean merge)."""
    done = await git(
        ["merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", ours, theirs],
        cwd=cwd,
        ok=(0, 1),
    )
    fields = split_z(done.stdout)
    tree = fields[0].decode()
    conflicts = [] if done.returncode == 0 else sorted({path_text(f) for f in fields[1:] if f})
    return tree, conflicts
