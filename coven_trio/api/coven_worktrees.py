"""A session's worktree over HTTP: what it changed (``GET …/diff``), bringing that into
the project (``POST …/merge``), and removing it (``POST …/discard``). The git side is
:mod:`coven_trio.worktrees`; docs/worktrees.md says what each does to git.

Each works for a live session, an ended one and one of a previous daemon: the record's
``worktree`` is all it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequest, TurnActive
from ..http import Request, Response, Router
from ..models import unstructure
from ..sessions import Historical, Session, TurnState
from ._context import ApiContext

if TYPE_CHECKING:
    from ..worktrees import Worktree


class WorktreeViews:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    async def _find(self, request: Request) -> tuple[Session | Historical, Worktree]:
        from .. import worktrees  # git's side loads with the first request for it

        session = await self.ctx.sessions.find(request.params["id"])
        data = session.describe().get("worktree")
        if not data:
            raise worktrees.NoWorktree(
                f"session {session.id} has no worktree: it was launched without "
                '`isolation: "worktree"`, or its worktree was discarded',
                details={"sessionId": session.id},
            )
        return session, worktrees.Worktree.from_json(data)

    async def diff(self, request: Request) -> Response:
        """``{sessionId, worktree, base, tree, stat}``; ``?format=patch``: the unified diff
        as ``text/x-diff``."""
        session, wt = await self._find(request)
        from .. import worktrees  # loaded by _find: the first request for it

        form = request.query.get("format", "json")
        if form not in ("json", "patch"):
            raise InvalidRequest("`format` must be `json` or `patch`", details={"format": form})
        found = await worktrees.diff(wt, patch=form == "patch")
        if form == "patch":
            body = (found.patch or "").encode()
            return Response(body=body, content_type="text/x-diff; charset=utf-8")
        described: dict[str, Any] = unstructure(found)
        return Response.json({"sessionId": session.id, "worktree": wt.to_json(), **described})

    async def merge(self, request: Request) -> Response:
        """``{strategy: "merge"|"rebase"}`` (default ``merge``): the session's work, its
        uncommitted changes committed first, into its base branch; a conflict is a 409
        that changed nothing. Refused while a turn runs (its files are still moving)."""
        session, wt = await self._find(request)
        from .. import worktrees  # loaded by _find: the first request for it

        body = _body(request)
        raw = body.get("strategy", "merge")
        try:
            strategy = worktrees.Strategy(raw)
        except ValueError:
            raise InvalidRequest(
                "`strategy` must be `merge` or `rebase`", details={"strategy": raw}
            ) from None
        if isinstance(session, Session) and session.state.turn is TurnState.ACTIVE:
            raise TurnActive(
                "A turn is running: merge once it has ended.", details={"sessionId": session.id}
            )
        result = await worktrees.merge(wt, strategy)
        merged: dict[str, Any] = unstructure(result)
        return Response.json({"sessionId": session.id, **merged})

    async def discard(self, request: Request) -> Response:
        """``{force?, kill?}``: remove the worktree and its branch. Refused while the
        session is live (``kill: true`` stops it first) and while its work is not merged
        (``force: true`` discards it anyway; the answer names the branch's last tip)."""
        session, wt = await self._find(request)
        from .. import worktrees  # loaded by _find: the first request for it

        body = _body(request)
        force, kill = body.get("force", False), body.get("kill", False)
        if not isinstance(force, bool) or not isinstance(kill, bool):
            raise InvalidRequest("`force` and `kill` must be booleans")
        if isinstance(session, Session) and not session.done.is_set():
            if not kill:
                raise worktrees.SessionStillLive(
                    f"session {session.id} is live: its harness works in the worktree; "
                    "kill it first, or discard with kill",
                    details={"sessionId": session.id},
                )
            if session.live:  # else it is ending already (a kill under way)
                session.kill()
            await session.done.wait()
        done = await worktrees.discard(wt, force=force)
        await self.ctx.sessions.worktree_discarded(session)
        discarded: dict[str, Any] = unstructure(done)
        return Response.json({"sessionId": session.id, "worktree": wt.to_json(), **discarded})


def _body(request: Request) -> dict[str, Any]:
    return request.json_object() if request.body.strip() else {}


def install(router: Router, ctx: ApiContext, prefix: str) -> None:
    views = WorktreeViews(ctx)
    router.add("GET", f"{prefix}/sessions/{{id}}/diff", views.diff)
    router.add("POST", f"{prefix}/sessions/{{id}}/merge", views.merge)
    router.add("POST", f"{prefix}/sessions/{{id}}/discard", views.discard)
