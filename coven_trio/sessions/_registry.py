"""Every session of this daemon: launch, lookup, retention.

Sessions run as tasks of the registry's nursery (in the daemon's, from the first request
for a session). A launch is validated (:mod:`coven_trio.launch`) before anything exists
and registered only once its first process runs with its prompt, so a refused or failed
launch leaves nothing. Memory holds the live sessions; an ended session leaves memory
once the store has all of it and is read from there on (``_retention.py``, :meth:`find`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeGuard

import trio

from .._clock import new_session_id
from ..config import MAX_TITLE_CHARS, Config
from ..errors import (
    CapacityExhausted,
    NotExternalSession,
    SessionIdConflict,
    SessionNotFound,
    SessionNotLive,
)
from ..harness import HarnessCatalog, Options, make_driver
from ..harness._tree import identity
from ..journal import LIFECYCLE_TYPES, Journal
from ..launch import LaunchPlan, plan_launch
from ..models import LaunchRequest
from ..store import Store
from ..vocabulary import Entry
from ._events import Launched, Prewarmed
from ._external import Externals, completed, external_record
from ._history import Historical, merge_pages
from ._interaction import TurnInput
from ._isolation import isolated
from ._retention import Retention
from ._session import Session

log = logging.getLogger("coven_trio.sessions")

#: How long a launch waits for the store to commit it before answering (a failing disk
#: must not hold launches: health reports the writer's state).
DURABLE_WAIT = 2.0
#: How often ended sessions the store was behind on are looked at again.
RETAIN_INTERVAL = 1.0


class SessionRegistry:
    """Every session of this daemon, newest last; sessions run in its nursery."""

    def __init__(
        self, config: Config, harnesses: HarnessCatalog, store: Store | None = None
    ) -> None:
        self.config = config
        self.harnesses = harnesses
        self.store = store or Store()
        self.externals = Externals()
        self._sessions: dict[str, Session] = {}
        self.retention = Retention(config, self.store, self._sessions)
        self.budget = self.retention.budget
        self._nursery: trio.Nursery | None = None
        self._running = trio.Event()  # run's nursery is there
        self._launching = 0
        self.closing = False
        #: Told what every session journals, as it does (the daemon's notifications).
        self.observe: Callable[[Session, list[Entry]], None] | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._running.set()
            task_status.started()
            while True:  # ended sessions the writer was behind on leave memory later
                await trio.sleep(RETAIN_INTERVAL)
                if self.retention.pending:
                    self.retention.retain()

    def get(self, session_id: str) -> Session:
        """A session in memory (live or recently ended)."""
        try:
            return self._sessions[session_id]
        except KeyError:
            raise _not_found(session_id) from None

    async def find(self, session_id: str) -> Session | Historical:
        """A session in memory, else from the store (read-only); 404 if neither has it."""
        session = self._sessions.get(session_id)
        if session is not None:
            return session
        record = self.retention.records.get(session_id)
        if record is not None:
            return Historical(session_id, record)
        external = self.externals.records.get(session_id)
        if external is not None:
            return Historical(session_id, external, Journal.from_lines(session_id, []))
        stored = await self.store.get(session_id)
        if stored is None:
            raise _not_found(session_id)
        return Historical(session_id, stored.record)

    async def journal(self, session: Session | Historical) -> Journal:
        """The journal of a session found by :meth:`find`."""
        if isinstance(session, Session):
            return session.journal
        if session.journal is not None:
            return session.journal
        journal = await self.retention.history.journal(session.id)
        if journal is None:  # pruned between the two reads
            raise _not_found(session.id)
        return journal

    async def page(self, before: tuple[str, str] | None, limit: int) -> list[dict[str, Any]]:
        """Records newest first, after the keyset ``before``: memory's and the store's."""
        records = [s.describe() for s in self.ordered()]
        records += [*self.retention.records.values(), *self.externals.records.values()]
        memory = [r for r in records if before is None or (r["created_at"], r["id"]) < before]
        stored = await self.store.page(before, limit)
        return merge_pages(memory, stored, limit)

    async def register_external(self, payload: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """``POST /sessions/external``: the record, and whether it is new (the same id
        again returns the first registration; a daemon-managed id is a 409)."""
        record = external_record(payload)
        try:
            existing = (await self.find(record["id"])).describe()
        except SessionNotFound:
            self.externals.keep(record)
            self.store.save_session(record["id"], record, False)
            return record, True
        if not existing.get("external"):
            raise SessionIdConflict(
                "A daemon-managed session with this id already exists.",
                details={"sessionId": record["id"]},
            )
        return existing, False

    async def complete_external(self, session_id: str, exit_code: int | None) -> dict[str, Any]:
        """``POST /sessions/:id/complete``: an external session's end, as reported."""
        record = (await self.find(session_id)).describe()
        if not record.get("external"):
            raise NotExternalSession(
                "POST /sessions/<id>/complete is only valid for externally-registered "
                "sessions. Use POST /sessions/<id>/kill for daemon-managed sessions.",
                details={"sessionId": session_id},
            )
        record = completed(record, exit_code)
        self.externals.keep(record)
        self.store.save_session(session_id, record, True)
        return record

    async def latest_on(self, conversation_id: str) -> str | None:
        """The newest session on a harness conversation (memory first, then the store)."""
        for session in self.ordered():
            if session.driver.conversation_id == conversation_id:
                return session.id
        return await self.store.find_conversation(conversation_id)

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
        render: bool = True,
        prewarm: bool = False,
    ) -> Session:
        """Validate, start the harness, register the session. Any failure leaves nothing.

        ``first_turn`` (eve) separates what is journaled from what the harness gets;
        by default both are the request's prompt. ``render``: journal structured output
        as terminal text too (for Coven's clients; eve's read the structured entries).
        ``prewarm``: start without a turn; the first message starts ``turn_0``.
        """
        plan = plan_launch(request, self.harnesses, prewarm=prewarm)  # a 400, full or not
        if self.closing:
            raise CapacityExhausted("The daemon is shutting down.", headers=[("retry-after", "1")])
        if len(self.live()) + self._launching >= self.config.max_sessions:
            raise CapacityExhausted(
                f"At most {self.config.max_sessions} live sessions.",
                headers=[("retry-after", "1")],
            )
        session_id = new_session_id()
        self._launching += 1
        try:
            async with isolated(plan, self.config.home, session_id) as (plan, worktree):
                if self.closing:  # the daemon began to stop while git made the worktree
                    raise CapacityExhausted(
                        "The daemon is shutting down.", headers=[("retry-after", "1")]
                    )
                session = self._prepare(
                    session_id,
                    request,
                    plan,
                    agent,
                    first_turn,
                    system_prompt,
                    prewarm,
                    render,
                    worktree=worktree.to_json() if worktree is not None else None,
                )
                if plan.conversation is not None and plan.conversation[0] == "resume":
                    session.resumed_from = await self.latest_on(plan.conversation[1])
                await self._running.wait()
                assert self._nursery is not None
                try:
                    await self._nursery.start(session.run)
                except BaseExceptionGroup as group:
                    raise _sole(group) from None
                session.launched = session.record()  # as started, before the store commits
        finally:
            self._launching -= 1
        self._sessions[session.id] = session
        self._persist(session)
        log.info("session %s launched (%s, %s)", session.id, session.harness, session.launch_mode)
        # The 201 promises a session a restarted daemon still knows, with the processes
        # it must stop if this one dies: answer once the store has them.
        with trio.move_on_after(DURABLE_WAIT) as waited:
            await self.store.flush()
        if waited.cancelled_caught:
            log.warning("session %s: the store did not commit its launch in time", session.id)
        return session

    def _on_end(self, session: Session) -> None:
        self.retention.ended(session)

    def _persist(self, session: Session) -> None:
        """A launched session goes to the store: its row, its journal, then each line."""
        self.store.save_session(session.id, session.describe(), session.state.ended)
        journal = session.journal
        for index in range(len(journal)):
            line = journal.line(index)
            self.store.append(session.id, index, line, journal.type_of(index) in LIFECYCLE_TYPES)
        journal.sink = self.store.append
        if session.pid is not None and (process := identity(session.pid)):
            self._on_processes(session, [process])

    def _on_change(self, session: Session) -> None:
        self.store.save_session(session.id, session.describe(), session.state.ended)

    async def worktree_discarded(self, session: Session | Historical) -> None:
        """The session's worktree is gone: its record says so from now on, wherever it is
        kept by then (the session may have left memory while git worked), and the store
        may prune the session again."""
        held = self._sessions.get(session.id)
        if isinstance(session, Session):
            session.worktree = None
        else:
            session.stored = {**session.stored, "worktree": None}
        if held is not None:
            held.worktree = None
            self._on_change(held)
        retained = self.retention.records.get(session.id)
        if retained is not None:
            self.retention.records[session.id] = {**retained, "worktree": None}
        if held is None:
            record = retained if retained is not None else session.describe()
            try:
                await self.store.update_record(session.id, {**record, "worktree": None})
            except Exception:  # the worktree is gone either way: say so, do not fail
                log.exception("session %s: could not record its discarded worktree", session.id)

    def _on_entries(self, session: Session, entries: list[Entry]) -> None:
        if self.observe is not None:
            self.observe(session, entries)

    def _on_processes(self, session: Session, processes: list[dict[str, int]]) -> None:
        self.store.set_processes(session.id, processes)

    def _prepare(
        self,
        session_id: str,
        request: LaunchRequest,
        plan: LaunchPlan,
        agent: str | None,
        first_turn: TurnInput | None,
        system_prompt: str | None,
        prewarm: bool,
        render: bool,
        *,
        worktree: dict[str, Any] | None = None,
    ) -> Session:
        options = Options(
            model=plan.model,
            system_prompt=system_prompt,
            permission_mode=plan.permission_mode,
            sandbox=plan.sandbox,
            approval=plan.approval,
            conversation=plan.conversation,
        )
        driver = make_driver(
            plan.spec,
            executable=plan.executable,
            mode=plan.mode,
            command=plan.command,
            options=options,
        )
        turn = first_turn or TurnInput.plain(plan.prompt)
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
            follow_ups=not plan.one_shot,
            renders=render and driver.structured,
            prewarmed=prewarm,
            on_end=self._on_end,
            on_change=self._on_change,
            on_processes=self._on_processes,
            on_entries=self._on_entries,
            worktree=worktree,
        )
        started: dict[str, Any] = {"sessionId": session_id, "harness": plan.harness}
        if agent is not None:
            started["agent"] = agent
        started.update(projectRoot=plan.project_root, cwd=plan.cwd)
        if worktree is not None:
            started["worktree"] = worktree
        session.apply(Prewarmed(started) if prewarm else Launched(started, turn))
        return session

    async def find_live(self, session_id: str) -> Session:
        """The live session ``session_id`` (404 if unknown, 409 if it has ended)."""
        return live(await self.find(session_id))

    async def kill(self, session_id: str) -> Session:
        session = await self.find_live(session_id)
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


def is_live(session: Session | Historical | None) -> TypeGuard[Session]:
    """A session in memory that takes input, follow-ups and kill (None: none found)."""
    return isinstance(session, Session) and session.live


def live(session: Session | Historical) -> Session:
    """``session`` if it is live, else 409 ``session_not_live``: the one place that says so."""
    if not is_live(session):
        raise SessionNotLive("Session is not live.", details={"sessionId": session.id})
    return session


def _not_found(session_id: str) -> SessionNotFound:
    return SessionNotFound("Session was not found.", details={"sessionId": session_id})


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
