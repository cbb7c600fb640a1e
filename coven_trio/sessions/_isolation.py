"""A launch's git worktree (``isolation``): made before the session, so its harness starts
there, and removed again if the launch fails, so a refused launch leaves nothing."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import trio

from ..launch import LaunchPlan

if TYPE_CHECKING:
    from ..worktrees import Worktree

log = logging.getLogger("coven_trio.sessions")


@contextlib.asynccontextmanager
async def isolated(
    plan: LaunchPlan, home: Path, session_id: str
) -> AsyncIterator[tuple[LaunchPlan, Worktree | None]]:
    """``plan`` with its ``cwd`` in the session's new worktree (and the worktree), or as
    it is without ``isolation``. An exception out of the block removes the worktree."""
    if plan.worktree is None:
        yield plan, None
        return
    from .. import worktrees  # git's side loads with the first isolated launch

    worktree = await worktrees.create(home, plan.project_root, session_id, base=plan.worktree.base)
    try:
        yield attrs.evolve(plan, cwd=worktree.cwd_for(plan.cwd)), worktree
    except BaseException:
        with trio.CancelScope(shield=True), trio.move_on_after(worktrees.GIT_TIMEOUT):
            try:
                await worktrees.discard(worktree, force=True)
            except Exception:  # the launch's own error is what the client must see
                log.exception("session %s: could not remove its worktree", session_id)
        raise
