"""Sessions: one supervised harness run each, owned by a registry in the daemon's nursery.

A :class:`Session` is one task in the registry's nursery; its harness processes, their
output readers and any stop escalation run in the session's own nursery, so nothing of a
session outlives it. Everything the session sees goes into its :class:`Journal` (entry 0
``session.started``; turns; translated output; ``kill``; ``exit``; exactly one terminal
entry), and its status follows spec §4:

``running`` (a turn or a process is going) → ``waiting`` (alive, idle between turns,
accepts a follow-up) → … → ``completed`` | ``failed`` | ``killed``.

Launch validation runs before anything exists: a refused launch creates no session and
no process; a process that cannot start leaves no session behind either.
"""

from __future__ import annotations

import codecs
import logging
import signal
from collections.abc import Iterable
from typing import Any

import attrs
import trio

from . import schema
from ._clock import new_session_id, new_token, utc_now
from .config import Config
from .errors import (
    CapacityExhausted,
    InvalidInputResponses,
    LaunchFailed,
    SendInputFailed,
    SessionNotFound,
    SessionNotLive,
    TurnActive,
)
from .harness import Driver, Entry, HarnessCatalog, make_driver
from .harness._lines import LineFramer, Truncated
from .harness._process import READ_SIZE, HarnessProcess, SpawnError, spawn
from .journal import Journal
from .launch import plan_launch
from .models import LaunchRequest, SessionRecord

log = logging.getLogger("coven_trio.sessions")

LIVE_STATUSES = frozenset({"running", "waiting"})
#: Entries that belong to a turn and carry its ``turnId``.
TURN_TYPES = frozenset(
    {
        "turn.started",
        "message.received",
        "agent.start",
        "agent.content.delta",
        "message.appended",
        "actions.requested",
        "action.result",
        "input.requested",
        "result.completed",
        "agent.complete",
        "turn.completed",
        "turn.failed",
    }
)
#: After a harness's root process exits, how long its output pipes may take to drain
#: (the group was SIGKILLed, so only an escaped descendant could hold them longer).
DRAIN_GRACE = 1.0
#: A write to a harness's stdin that takes longer than this fails the request (500).
INPUT_TIMEOUT = 10.0


@attrs.frozen
class TurnInput:
    """What starts a turn: the user's message as journaled, the text the harness gets
    (the message plus any client context and output-schema instructions), and the
    turn's options."""

    message: str
    harness_text: str
    output_schema: dict[str, Any] | None = None
    input_responses: tuple[dict[str, Any], ...] = ()

    @classmethod
    def plain(cls, message: str) -> TurnInput:
        return cls(message=message, harness_text=message)


@attrs.define(eq=False)
class Session:
    """One supervised harness run and its journal."""

    id: str
    harness: str
    driver: Driver
    project_root: str
    cwd: str
    title: str
    launch_mode: str
    config: Config
    journal: Journal
    prompt: str
    agent: str | None = None
    created_at: str = attrs.field(factory=utc_now)
    status: str = "running"
    exit_code: int | None = None
    turns: int = 0
    turn_id: str | None = None
    turn_active: bool = False
    continuation_token: str = attrs.field(factory=new_token)
    #: Harness questions awaiting an answer (``input.requested``), by request id.
    pending_requests: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    _output_schema: dict[str, Any] | None = None
    _last_text: str | None = None
    _proc: HarnessProcess | None = None
    _nursery: trio.Nursery | None = None
    _next_prompt: str | None = None
    _wake: trio.Event = attrs.field(factory=trio.Event)
    _stopping: bool = False
    _killed: bool = False
    done: trio.Event = attrs.field(factory=trio.Event)

    # --- views ---------------------------------------------------------------------------

    @property
    def live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.alive() else None

    def record(self) -> SessionRecord:
        return SessionRecord(
            id=self.id,
            project_root=self.project_root,
            harness=self.harness,
            title=self.title,
            status=self.status,
            exit_code=self.exit_code,
            archived_at=None,
            created_at=self.created_at,
            updated_at=self.journal.last_at or self.created_at,
            conversation_id=self.driver.conversation_id,
            familiar_id=None,
            execution_binding=None,
            labels=[],
            visibility="private",
            external=False,
            transcript_path=None,
            cwd=self.cwd,
            launch_mode=self.launch_mode,
            pid=self.pid,
            turns=self.turns,
            event_count=len(self.journal),
        )

    # --- journal helpers -----------------------------------------------------------------

    def _append(self, type_: str, data: dict[str, Any] | None = None) -> None:
        if self.journal.closed:
            return
        if type_ in TURN_TYPES and self.turn_id is not None:
            data = {**(data or {}), "turnId": self.turn_id}
            if type_ in ("turn.started", "message.received", "turn.completed", "turn.failed"):
                data["sequence"] = self.turns - 1
        self.journal.append(type_, data)

    def _begin_turn(self, turn: TurnInput) -> None:
        """Journal a turn's start. ``sequence`` is 0-based and ``turnId`` is
        ``turn_<sequence>``, as in eve."""
        self.turns += 1
        self.turn_id = f"turn_{self.turns - 1}"
        self.turn_active = True
        self.status = "running"
        self._output_schema = turn.output_schema
        self._last_text = None
        self.driver.begin_turn()
        self._append("turn.started")
        if turn.message:
            self._append("message.received", {"message": turn.message})

    def _end_turn(self, type_: str, data: dict[str, Any] | None = None) -> None:
        """Journal the turn's end once; a completed turn with an ``outputSchema`` is
        checked first (``result.completed``, or ``turn.failed``
        ``OUTPUT_SCHEMA_NOT_FULFILLED``)."""
        if not self.turn_active:
            return
        self.turn_active = False
        if type_ == "turn.completed" and self._output_schema is not None:
            type_, data = self._check_output(self._output_schema)
        self._output_schema = None
        self._append(type_, data)

    def _check_output(self, output_schema: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        found, value = schema.extract_json(self._last_text or "")
        errors = schema.validate(value, output_schema) if found else ["no JSON in the answer"]
        if not errors:
            self._append("result.completed", {"result": value})
            return "turn.completed", {}
        return "turn.failed", {
            "code": "OUTPUT_SCHEMA_NOT_FULFILLED",
            "message": "The agent could not produce a result matching the requested schema.",
            "details": {"errors": errors},
        }

    def _wait_for_next(self) -> None:
        self.status = "waiting"
        self._append(
            "session.waiting",
            {"wait": "next-user-message", "continuationToken": self.continuation_token},
        )

    def _terminal(self, status: str, type_: str, data: dict[str, Any] | None = None) -> None:
        if self.journal.closed:
            return
        if self.status in LIVE_STATUSES:
            self.status = status
        self._append(type_, data)
        self.journal.close()

    def _turn_boundary(self) -> None:
        """A long-lived harness finished its turn: the session waits for the next one."""
        proc = self._proc
        alive = proc is not None and proc.alive()
        if alive and not self.driver.per_turn and self.status == "running":
            self._wait_for_next()

    def _on_entries(self, entries: Iterable[Entry]) -> None:
        for type_, data in entries:
            if type_ in ("turn.completed", "turn.failed"):
                self._end_turn(type_, data)
                self._turn_boundary()
                continue
            if type_ == "message.appended" and data.get("role") == "assistant":
                self._last_text = str(data.get("content", ""))
            self._append(type_, data)
            if type_ == "input.requested":
                # The harness is parked on a question: the turn ends here (eve §5 D) and
                # the answer comes as a follow-up's ``inputResponses``.
                for request in data.get("requests", []):
                    self.pending_requests[str(request.get("requestId"))] = request
                self._end_turn("turn.completed")
                self._turn_boundary()

    # --- lifecycle -----------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The session's whole life. Reports started once its first process runs and has
        its prompt; a spawn or prompt-delivery failure raises :class:`LaunchFailed`
        before that, leaving nothing behind."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                argv = self.driver.first_argv(self.prompt)
                code = await self._run_process(argv, self.prompt, task_status)
                while self._after_exit(code):
                    prompt = await self._next_turn()
                    if prompt is None:
                        break
                    try:
                        code = await self._run_process(self.driver.next_argv(prompt), prompt)
                    except LaunchFailed as exc:
                        self._end_turn(
                            "turn.failed", {"code": "launch_failed", "message": str(exc)}
                        )
                        self._terminal(
                            "failed",
                            "session.failed",
                            {"code": "launch_failed", "message": str(exc)},
                        )
                        break
                nursery.cancel_scope.cancel()  # an escalation task may still be parked
        finally:
            self._proc = None
            if not self.journal.closed and self.journal:
                # Cancelled from outside (forced daemon stop): say so, never end silently.
                self._end_turn("turn.failed", {"code": "stopped", "message": "daemon stopped"})
                self._terminal(
                    "failed", "session.failed", {"code": "stopped", "message": "daemon stopped"}
                )
            self.done.set()

    async def _run_process(
        self,
        argv: list[str],
        prompt: str,
        task_status: trio.TaskStatus[None] | None = None,
    ) -> int:
        """Start one harness process, deliver the prompt, journal its output until it
        exits; returns its return code (it is reaped, and its group is gone)."""
        try:
            proc = await spawn(argv, cwd=self.cwd, use_pty=self.driver.use_pty)
        except SpawnError as exc:
            raise LaunchFailed(str(exc)) from None
        self._proc = proc
        log.info("session %s: started pid %d: %s", self.id, proc.pid, argv[0])
        failure: LaunchFailed | None = None
        try:
            async with trio.open_nursery() as readers:
                readers.start_soon(self._read_stdout, proc)
                if proc.stderr is not None:
                    readers.start_soon(self._read_stderr, proc.stderr)
                failure = await self._deliver_prompt(proc, prompt)
                if failure is None and task_status is not None:
                    task_status.started()
                code = await proc.process.wait()
                # The root is gone: its group goes too, so no grandchild holds the pipes.
                proc.signal_group(signal.SIGKILL)
                readers.cancel_scope.deadline = trio.current_time() + DRAIN_GRACE
        finally:
            if proc.alive():  # cancelled or failed before the root exited
                await proc.kill_now()
            await proc.aclose_streams()
        if failure is not None:
            raise failure
        self._journal_exit(code)
        return code

    async def _deliver_prompt(self, proc: HarnessProcess, prompt: str) -> LaunchFailed | None:
        """Write the turn's prompt on stdin if the driver says so; on failure the process
        is killed and the error returned."""
        data = self.driver.prompt_stdin(prompt)
        try:
            with trio.fail_after(INPUT_TIMEOUT):
                if data is not None:
                    await proc.write(data)
                if self.driver.close_stdin_after_prompt:
                    await proc.close_stdin()
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError) as exc:
            await proc.kill_now()
            return LaunchFailed(
                f"`{self.harness}` did not take its prompt on stdin "
                f"(child closed stdin or stalled: {type(exc).__name__})"
            )
        return None

    def _journal_exit(self, code: int) -> None:
        data: dict[str, Any] = {"exitCode": code if code >= 0 else None}
        if code < 0:
            data["signal"] = signal.Signals(-code).name
        data["status"] = "completed" if code == 0 else "failed"
        self._append("exit", data)
        self.exit_code = code if code >= 0 else None

    def _after_exit(self, code: int) -> bool:
        """Decide what a process exit means; True if the session waits for a turn."""
        if self._killed:
            self._end_turn("turn.failed", {"code": "killed", "message": "Session was killed."})
            self._terminal(
                "killed", "session.failed", _failure("killed", "Session was killed.", code)
            )
            return False
        ok = code == 0
        if ok and self.driver.per_turn and self.driver.conversation_id and not self._stopping:
            self._end_turn("turn.completed")
            self._wait_for_next()
            return True
        if ok:
            self._end_turn("turn.completed")
            self._terminal("completed", "session.completed")
            return False
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"code {code}"
        message = f"harness `{self.harness}` exited with {how}"
        reason = "stopped" if self._stopping else "harness_exited"
        self._end_turn("turn.failed", {"code": reason, "message": message})
        self._terminal("failed", "session.failed", _failure(reason, message, code))
        return False

    async def _next_turn(self) -> str | None:
        """Park a per-turn session between turns; the next prompt, or None to end."""
        while True:
            if self._killed:
                self._terminal(
                    "killed", "session.failed", _failure("killed", "Session was killed.")
                )
                return None
            if self._stopping:
                self._terminal("completed", "session.completed")
                return None
            if self._next_prompt is not None:
                prompt, self._next_prompt = self._next_prompt, None
                return prompt
            await self._wake.wait()
            self._wake = trio.Event()

    # --- output --------------------------------------------------------------------------

    async def _read_stdout(self, proc: HarnessProcess) -> None:
        if not self.driver.structured:
            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            while chunk := await _receive(proc.stdout):
                if text := decoder.decode(chunk):
                    self._append("output", {"data": text})
            if tail := decoder.decode(b"", final=True):
                self._append("output", {"data": tail})
            return
        framer = LineFramer(self.config.max_line_bytes)
        while chunk := await _receive(proc.stdout):
            self._on_lines(framer.feed(chunk), self.driver.translate)
        self._on_lines(framer.flush(), self.driver.translate)

    async def _read_stderr(self, stream: trio.abc.ReceiveStream) -> None:
        framer = LineFramer(self.config.max_line_bytes)
        while chunk := await _receive(stream):
            self._on_lines(framer.feed(chunk), self.driver.translate_stderr)
        self._on_lines(framer.flush(), self.driver.translate_stderr)

    def _on_lines(self, lines: list[bytes | Truncated], translate: Any) -> None:
        for line in lines:
            if isinstance(line, Truncated):
                self._append(
                    "output_truncated",
                    {
                        "droppedBytes": line.dropped,
                        "droppedEvents": 1,
                        "reason": f"line longer than {self.config.max_line_bytes} bytes",
                    },
                )
            else:
                self._on_entries(translate(line))

    # --- requests from clients -----------------------------------------------------------

    async def send_input(self, data: str, body: dict[str, Any]) -> None:
        """``POST …/input``: raw bytes to a PTY/command, or a new turn for turn-based
        harnesses. Journals ``input`` once accepted."""
        if not self.live:
            raise SessionNotLive("Session is not live.", details={"sessionId": self.id})
        if self.driver.has_turns:
            await self.start_turn(TurnInput.plain(data), input_body=body)
            return
        proc = self._proc
        if proc is None or not proc.alive():
            raise SessionNotLive("Session is not live.", details={"sessionId": self.id})
        self._append("input", body)
        await self._write(proc, data.encode())

    async def start_turn(
        self, turn: TurnInput, *, input_body: dict[str, Any] | None = None
    ) -> None:
        """Start a follow-up turn (409 ``turn_active`` mid-turn). Rotates the
        continuation token; answers pending harness questions first."""
        if not self.live:
            raise SessionNotLive("Session is not live.", details={"sessionId": self.id})
        if self.turn_active or self.status != "waiting":
            raise TurnActive("A turn is already running.", details={"sessionId": self.id})
        proc = self._proc
        answers = self._answers(turn)
        if not self.driver.per_turn and (proc is None or not proc.alive()):
            raise SessionNotLive("Session is not live.", details={"sessionId": self.id})
        if input_body is not None:
            self._append("input", input_body)
        self.continuation_token = new_token()
        if answers:
            assert proc is not None
            await self._answer(proc, answers)
            turn = attrs.evolve(turn, message="", harness_text="")
        if self.driver.per_turn:
            self._begin_turn(turn)
            self._next_prompt = turn.harness_text
            self._wake.set()
            return
        self._begin_turn(turn)
        if turn.harness_text:
            line = self.driver.turn_input(turn.harness_text)
            assert proc is not None and line is not None
            await self._write(proc, line)

    def _answers(self, turn: TurnInput) -> list[tuple[str, bool]]:
        """``(requestId, allow)`` for every pending question this turn answers.

        A follow-up while questions are pending must answer them: by ``inputResponses``,
        or by a message naming an option (``approve``/``deny``, ``Yes``/``No``), which
        answers all of them. Anything else is a 400.
        """
        if not self.pending_requests:
            if turn.input_responses:
                raise InvalidInputResponses("There is no pending input request to answer.")
            return []
        if turn.input_responses:
            if turn.message:
                raise InvalidInputResponses(
                    "Send 'message' in its own follow-up once the input requests are answered."
                )
            answers = []
            for response in turn.input_responses:
                request_id = response["requestId"]
                if request_id not in self.pending_requests:
                    raise InvalidInputResponses(
                        f"Unknown requestId {request_id!r}.", details={"requestId": request_id}
                    )
                option = str(response.get("optionId") or response.get("text") or "")
                answers.append((request_id, _allows(option)))
            return answers
        option = turn.message.strip().lower()
        if option in ("approve", "yes", "deny", "no"):
            return [(request_id, _allows(option)) for request_id in self.pending_requests]
        raise InvalidInputResponses(
            "Answer the pending input requests first (inputResponses, or approve/deny).",
            details={"requestIds": list(self.pending_requests)},
        )

    async def _answer(self, proc: HarnessProcess, answers: list[tuple[str, bool]]) -> None:
        """Send each answer to the harness; a denial is journaled as a rejected action
        (stamped with the parked turn, eve §5 E)."""
        for request_id, allow in answers:
            request = self.pending_requests.pop(request_id)
            action = request.get("action") or {}
            line = self.driver.control_response(request_id, allow, action.get("input"))
            if line is None:
                raise InvalidInputResponses("This harness does not take input responses.")
            if not allow:
                self._append(
                    "action.result",
                    {
                        "result": {
                            "kind": "tool-result",
                            "callId": action.get("callId", ""),
                            "toolName": action.get("toolName", ""),
                            "output": "Tool execution was denied.",
                            "isError": True,
                        },
                        "status": "rejected",
                        "error": {
                            "code": "TOOL_EXECUTION_DENIED",
                            "message": "Tool execution was denied.",
                        },
                    },
                )
            await self._write(proc, line)

    async def _write(self, proc: HarnessProcess, data: bytes) -> None:
        try:
            with trio.fail_after(INPUT_TIMEOUT):
                await proc.write(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError) as exc:
            raise SendInputFailed(
                f"could not write to the harness: {type(exc).__name__}",
                details={"sessionId": self.id},
            ) from None

    def kill(self) -> None:
        """``POST …/kill``: journal ``kill``, mark ``killed``, escalate in the background."""
        if not self.live:
            raise SessionNotLive("Session is not live.", details={"sessionId": self.id})
        self._killed = True
        self.status = "killed"
        self._append("kill", {"status": "killed"})
        self._escalate()

    async def stop(self) -> None:
        """Daemon shutdown: stop with the full escalation and wait until done."""
        if self.live:
            self._stopping = True
            self._escalate()
        await self.done.wait()

    def _escalate(self) -> None:
        proc, nursery = self._proc, self._nursery
        if proc is not None and proc.alive() and nursery is not None:
            nursery.start_soon(proc.stop, self.config.stdin_grace, self.config.term_grace)
        self._wake.set()


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


def _allows(option: str) -> bool:
    return option.strip().lower() in ("approve", "yes", "allow")


def _failure(code: str, message: str, exit_code: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"code": code, "message": message}
    if exit_code is not None and exit_code >= 0:
        data["exitCode"] = exit_code
    return data


async def _receive(stream: trio.abc.ReceiveStream) -> bytes:
    try:
        return bytes(await stream.receive_some(READ_SIZE))
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return b""


class SessionRegistry:
    """Every session of this daemon, newest last; sessions run in its nursery."""

    def __init__(self, config: Config, harnesses: HarnessCatalog) -> None:
        self.config = config
        self.harnesses = harnesses
        self._sessions: dict[str, Session] = {}
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
        self._forget_oldest_ended()
        return session

    def _forget_oldest_ended(self) -> None:
        """Keep at most ``max_retained_sessions`` ended sessions (oldest go first)."""
        ended = [s for s in self._sessions.values() if not s.live]
        for session in ended[: max(0, len(ended) - self.config.max_retained_sessions)]:
            del self._sessions[session.id]

    def _prepare(
        self,
        request: LaunchRequest,
        agent: str | None,
        first_turn: TurnInput | None,
        system_prompt: str | None,
        permission_prompts: bool,
    ) -> Session:
        plan = plan_launch(request, self.harnesses)
        root, cwd, harness_id, mode = plan.project_root, plan.cwd, plan.harness, plan.mode
        prompt, command = plan.prompt, plan.command
        driver = make_driver(
            plan.spec,
            executable=plan.executable,
            mode=mode,
            model=plan.model,
            command=command,
            system_prompt=system_prompt,
            permission_prompts=permission_prompts,
        )
        turn = first_turn or TurnInput.plain(prompt)
        session_id = new_session_id()
        title = request.title if request.title and request.title.strip() else prompt
        journal = Journal(session_id, max_bytes=self.config.journal_max_bytes)
        session = Session(
            id=session_id,
            harness=harness_id,
            driver=driver,
            project_root=root,
            cwd=cwd,
            title=title or " ".join(command or ()),
            launch_mode=mode,
            config=self.config,
            journal=journal,
            prompt=turn.harness_text,
            agent=agent,
        )
        started: dict[str, Any] = {"sessionId": session_id, "harness": harness_id}
        if agent is not None:
            started["agent"] = agent
        started.update(projectRoot=root, cwd=cwd)
        journal.append("session.started", started)
        session._begin_turn(turn)
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
            for session in self.live():
                nursery.start_soon(session.stop)
