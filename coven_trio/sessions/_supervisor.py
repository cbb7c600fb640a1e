"""The process side of a session: spawn a harness, hand it its prompt, read what it
prints, reap it, and stop it when asked.

One harness process at a time (a per-turn harness gets one per turn). Everything a
process needs — its output readers and any stop escalation — runs in the nursery of
:meth:`Supervisor.run`, so nothing outlives the process's reaping. Output is translated
by the session's driver and handed to the session's sink in batches; the sink decides
what it means.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator

import trio

from ..config import Config
from ..errors import LaunchFailed, SendInputFailed
from ..harness import Driver
from ..harness._lines import LineFramer, Truncated
from ..harness._process import READ_SIZE, HarnessProcess, SpawnError, spawn
from ..harness._tree import REAPER, identity, marker_env, stop_marked
from ..vocabulary import Entry, EntryType

log = logging.getLogger("coven_trio.sessions")

#: After a harness's root process exits, how long its output pipes may take to drain
#: (the group was SIGKILLed, so only an escaped descendant could hold them longer).
DRAIN_GRACE = 1.0
#: A write to a harness's stdin that takes longer than this fails the request (500).
INPUT_TIMEOUT = 10.0
#: Lines handled between two yields to the event loop: a chunk of short lines (64 KiB
#: of them is ~650) would otherwise hold the loop for ~10 ms, and a flooding harness
#: would delay every other task by several of those.
LINES_PER_SLICE = 64

#: Where translated output goes (the session).
Sink = Callable[[list[Entry]], Awaitable[None]]
#: Told which harness processes run now (``[]`` once reaped): the store records them so a
#: restarted daemon can find and stop what a crashed one left.
ProcessWatcher = Callable[[list[dict[str, int]]], None]


class Supervisor:
    """Runs one session's harness processes, one at a time."""

    def __init__(
        self,
        label: str,
        driver: Driver,
        cwd: str,
        config: Config,
        sink: Sink,
        watcher: ProcessWatcher | None = None,
    ) -> None:
        self.label = label
        self._watcher = watcher
        self.driver = driver
        self.cwd = cwd
        self.config = config
        self._sink = sink
        self.proc: HarnessProcess | None = None
        self._nursery: trio.Nursery | None = None
        #: Set while output may be handed on; cleared while a delivery is journaled.
        self._output_open = trio.Event()
        self._output_open.set()

    def detach(self) -> None:
        """No more output or process reports go anywhere (the session is over)."""
        self._sink = _nowhere
        self._watcher = None

    @property
    def pid(self) -> int | None:
        proc = self.proc
        return proc.pid if proc is not None and proc.alive() else None

    async def run(self, argv: list[str], stdin: bytes | None, started: Callable[[], None]) -> int:
        """Start ``argv``, deliver ``stdin`` (closing it after if the driver says so), call
        ``started()``, then journal its output until it exits; returns its return code
        (reaped, and its process group gone). A spawn or delivery failure raises
        :class:`LaunchFailed` before ``started()``, leaving no process behind."""
        # Output waits until ``started()`` has journaled the turn it answers.
        gate = self._output_open = trio.Event()
        try:
            try:
                env = marker_env(self.label)
                proc = await spawn(argv, cwd=self.cwd, use_pty=self.driver.use_pty, env=env)
            except SpawnError as exc:
                raise LaunchFailed(str(exc)) from None
            self.proc = proc
            if self._watcher is not None:
                found = identity(proc.pid)
                self._watcher([found] if found is not None else [])
            log.info("session %s: started pid %d: %s", self.label, proc.pid, argv[0])
            try:
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    nursery.start_soon(self._read_stdout, proc)
                    if proc.stderr is not None:
                        nursery.start_soon(self._read_lines, proc.stderr)
                    await self._deliver(proc, stdin)
                    started()
                    gate.set()
                    code = await proc.process.wait()
                    # The root is gone: its group goes too, so no grandchild holds the pipes.
                    proc.signal_group(signal.SIGKILL)
                    nursery.cancel_scope.deadline = trio.current_time() + DRAIN_GRACE
            finally:
                self._nursery = None
                if proc.alive():  # cancelled or failed before the root exited
                    await proc.kill_now()
                REAPER.exited(proc.pid)
                await stop_marked(self.label)  # whatever is left, in the group or not
                await REAPER.settle(proc.pid)  # and reaped: no zombie of it stays
                await proc.aclose_streams()
                if self._watcher is not None:
                    self._watcher([])
            return code
        finally:
            gate.set()

    async def _deliver(self, proc: HarnessProcess, stdin: bytes | None) -> None:
        """Hand the process its prompt. A process that closed stdin (or exited) before
        reading it is not a failed launch: it is a session that ended, and its exit and
        output say how. One that stalls for ``INPUT_TIMEOUT`` is."""
        try:
            with trio.fail_after(INPUT_TIMEOUT):
                if stdin is not None:
                    await proc.write(stdin)
                if self.driver.close_stdin_after_prompt:
                    await proc.close_stdin()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            log.info("session %s: the harness closed stdin before its prompt", self.label)
        except trio.TooSlowError:
            await proc.kill_now()
            raise LaunchFailed(
                f"`{self.label}` did not take its prompt on stdin within {INPUT_TIMEOUT:g} s"
            ) from None

    async def write(self, data: bytes) -> None:
        """Write to the live process's stdin (or PTY); a failure is a 500 for the client."""
        proc = self.proc
        try:
            if proc is None or not proc.alive():
                raise trio.BrokenResourceError("no live process")
            with trio.fail_after(INPUT_TIMEOUT):
                await proc.write(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError) as exc:
            raise SendInputFailed(
                f"could not write to the harness: {type(exc).__name__}",
                details={"sessionId": self.label},
            ) from None

    def kill(self) -> None:
        """SIGKILL the process group now (the session failed inside); :meth:`run` reaps."""
        if self.proc is not None:
            self.proc.signal_group(signal.SIGKILL)

    def resize(self, rows: int, cols: int) -> None:
        """Resize the live process's PTY; False-y sessions (pipes) raise OSError."""
        proc = self.proc
        if proc is None or not proc.alive():
            raise OSError("no live process")
        proc.resize(rows, cols)

    def interrupt(self) -> None:
        """SIGINT to the process group: a per-turn CLI's turn stops (eve's cancel)."""
        if self.proc is not None and self.proc.alive():
            self.proc.signal_group(signal.SIGINT)

    def request_stop(self) -> None:
        """Stop the process with the full escalation (the state asks again once a
        process that was starting has started)."""
        proc, nursery = self.proc, self._nursery
        if proc is not None and proc.alive() and nursery is not None:
            stop = functools.partial(
                proc.stop,
                self.config.stdin_grace,
                self.config.term_grace,
                interrupt=self.driver.interrupt(),
                eof=self.driver.stops_on_eof,
            )
            try:
                nursery.start_soon(stop)
            except RuntimeError:  # closed: it is being cancelled, which kills the process
                log.debug("stop of a session whose supervisor is already being cancelled")

    @contextlib.contextmanager
    def output_held(self) -> Iterator[None]:
        """Hold the harness's output while a delivery is journaled, so whatever the
        harness answers lands after the entries that caused it."""
        gate = self._output_open = trio.Event()
        try:
            yield
        finally:
            gate.set()

    # --- output --------------------------------------------------------------------------

    async def _emit(self, entries: list[Entry]) -> None:
        if not self._output_open.is_set():
            await self._output_open.wait()
        if entries:
            await self._sink(entries)

    async def _read_stdout(self, proc: HarnessProcess) -> None:
        if self.driver.structured:
            await self._read_lines(proc.stdout, structured=True)
            return
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while chunk := await _receive(proc.stdout):
            if text := decoder.decode(chunk):
                await self._emit([(EntryType.OUTPUT, {"data": text})])
        if tail := decoder.decode(b"", final=True):
            await self._emit([(EntryType.OUTPUT, {"data": tail})])

    async def _read_lines(self, stream: trio.abc.ReceiveStream, structured: bool = False) -> None:
        """Frame ``stream`` into lines; stdout lines go through the driver's translation,
        stderr lines through its stderr translation."""
        translate = self.driver.translate if structured else self.driver.translate_stderr
        framer = LineFramer(self.config.max_line_bytes)
        while chunk := await _receive(stream):
            lines = framer.feed(chunk)
            for start in range(0, len(lines), LINES_PER_SLICE):
                if start:
                    await trio.lowlevel.checkpoint()  # fairness: let other tasks run
                await self._emit(self._entries(lines[start : start + LINES_PER_SLICE], translate))
        last = self._entries(framer.flush(), translate)
        await self._emit(last + self.driver.finish() if structured else last)

    def _entries(
        self, lines: list[bytes | Truncated], translate: Callable[[bytes], list[Entry]]
    ) -> list[Entry]:
        entries: list[Entry] = []
        for line in lines:
            if isinstance(line, Truncated):
                entries.append(
                    (
                        EntryType.OUTPUT_TRUNCATED,
                        {
                            "droppedBytes": line.dropped,
                            "droppedEvents": 1,
                            "reason": f"line longer than {self.config.max_line_bytes} bytes",
                        },
                    )
                )
            else:
                entries.extend(translate(line))
        return entries


async def _nowhere(entries: list[Entry]) -> None:
    pass


async def _receive(stream: trio.abc.ReceiveStream) -> bytes:
    try:
        return bytes(await stream.receive_some(READ_SIZE))
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return b""
