"""Every session of this daemon: launch, lookup, retention.

Sessions run as tasks of the registry's nursery, which lives in the daemon's. A launch
is validated (:mod:`coven_trio.launch`) before anything exists and registered only once
its first process runs with its prompt, so a refused or failed launch leaves nothing.
Ended sessions stay readable until ``max_retained_sessions`` newer ones have ended.
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from .._clock import new_session_id
from ..config import MAX_TITLE_CHARS, Config
from ..errors import CapacityExhausted, SessionNotFound
from ..harness import HarnessCatalog, make_driver
from ..journal import Journal, MemoryBudget
from ..launch import plan_launch
from ..models import LaunchRequest
from ._interaction import TurnInput
from ._session import Session
from ._state import Launched

log = logging.getLogger("coven_trio.sessions")


class SessionRegistry:
    """Every session of this daemon, newest last; sessions run in its nursery."""

    def __init__(self, config: Config, harnesses: HarnessCatalog) -> None:
        self.config = config
        self.harnesses = harnesses
        self._sessions: dict[str, Session] = {}
        #: Ids of ended sessions, oldest end first (what retention forgets first).
        self._ended: dict[str, None] = {}
        self.budget = MemoryBudget(config.journals_max_bytes, reclaim=self._reclaim)
        self._nursery: trio.Nursery | None = None
        self._launching = 0
        self.closing = False

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    def get(self, session_id: str) -> Session:
        try:
            return self._sessions[session_id]
        except KeyError:
            raise SessionNotFound(
                "Session was not found.", details={"sessionId": session_id}
            ) from None

    def ordered(self) -> list[Session]:
        """Newest first (``created_at DESC, id DESC``, as the Rust daemon orders)."""
        return sorted(self._sessions.values(), key=lambda s: (s.created_at, s.id), reverse=True)

    def live(self) -> list[Session]:
        return [s for s in self._sessions.values() if s.live]

    async def launch(
        self,
        request: LaunchRequest,
        *,
        agent: str | None = None,
        first_turn: TurnInput | None = None,
        system_prompt: str | None = None,
        permission_prompts: bool = False,
    ) -> Session:
        """Validate, start the harness, register the session. Any failure leaves nothing.

        ``first_turn`` (eve) separates what is journaled from what the harness gets;
        by default both are the request's prompt.
        """
        session = self._prepare(request, agent, first_turn, system_prompt, permission_prompts)
        if self.closing:
            raise CapacityExhausted("The daemon is shutting down.", headers=[("retry-after", "1")])
        if len(self.live()) + self._launching >= self.config.max_sessions:
            raise CapacityExhausted(
                f"At most {self.config.max_sessions} live sessions.",
                headers=[("retry-after", "1")],
            )
        assert self._nursery is not None
        self._launching += 1
        try:
            await self._nursery.start(session.run)
        except BaseExceptionGroup as group:
            raise _sole(group) from None
        finally:
            self._launching -= 1
        self._sessions[session.id] = session
        log.info("session %s launched (%s, %s)", session.id, session.harness, session.launch_mode)
        return session

    def _on_end(self, session: Session) -> None:
        """Keep at most ``max_retained_sessions`` ended sessions (the oldest-ended go)."""
        self._ended[session.id] = None
        while len(self._ended) > self.config.max_retained_sessions:
            self._forget_oldest_ended()
        self.budget.over()  # reclaims past the memory budget too

    def _reclaim(self) -> None:
        """The journals' memory budget is spent: forget ended sessions, oldest-ended
        first, until it is not (or none is left)."""
        while self.budget.used > self.budget.limit and self._ended:
            self._forget_oldest_ended()

    def _forget_oldest_ended(self) -> None:
        oldest = next(iter(self._ended))
        del self._ended[oldest]
        session = self._sessions.pop(oldest, None)
        if session is not None:
            session.journal.release()

    def _prepare(
        self,
        request: LaunchRequest,
        agent: str | None,
        first_turn: TurnInput | None,
        system_prompt: str | None,
        permission_prompts: bool,
    ) -> Session:
        plan = plan_launch(request, self.harnesses)
        driver = make_driver(
            plan.spec,
            executable=plan.executable,
            mode=plan.mode,
            model=plan.model,
            command=plan.command,
            system_prompt=system_prompt,
            permission_prompts=permission_prompts,
        )
        turn = first_turn or TurnInput.plain(plan.prompt)
        session_id = new_session_id()
        title = request.title if request.title and request.title.strip() else plan.prompt
        title = title or " ".join(plan.command or ())
        if len(title) > MAX_TITLE_CHARS:
            title = title[: MAX_TITLE_CHARS - 1] + "…"
        session = Session(
            id=session_id,
            harness=plan.harness,
            driver=driver,
            project_root=plan.project_root,
            cwd=plan.cwd,
            title=title,
            launch_mode=plan.mode,
            config=self.config,
            journal=Journal(
                session_id,
                max_bytes=self.config.journal_max_bytes,
                max_entry_bytes=self.config.max_entry_bytes,
                hard_max_bytes=self.config.journal_max_bytes + self.config.journal_reserve_bytes,
                budget=self.budget,
            ),
            first_turn=turn,
            agent=agent,
            on_end=self._on_end,
        )
        started: dict[str, Any] = {"sessionId": session_id, "harness": plan.harness}
        if agent is not None:
            started["agent"] = agent
        started.update(projectRoot=plan.project_root, cwd=plan.cwd)
        session.handle(Launched(started, turn.message))
        return session

    async def kill(self, session_id: str) -> Session:
        session = self.get(session_id)
        session.kill()
        return session

    async def kill_all(self) -> list[str]:
        killed = []
        for session in self.live():
            session.kill()
            killed.append(session.id)
        return killed

    async def stop_all(self) -> None:
        """Stop every live session with the full escalation, concurrently."""
        self.closing = True
        async with trio.open_nursery() as nursery:
            for session in self._sessions.values():
                if not session.state.ended:
                    nursery.start_soon(session.stop)


def _sole(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one error inside nested nursery groups (a failed launch), else the group."""
    leaves: list[BaseException] = []
    stack: list[BaseException] = [group]
    while stack:
        exc = stack.pop()
        if isinstance(exc, BaseExceptionGroup):
            stack.extend(exc.exceptions)
        else:
            leaves.append(exc)
    return leaves[0] if len(leaves) == 1 else group
