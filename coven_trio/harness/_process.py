"""Harness child processes: own process group, pipes or a PTY, escalation, reaping.

Every harness runs with ``start_new_session=True`` so its whole tree (node, MCP servers,
shell tools) can be signalled as one group. Stopping escalates as spec §6 says: close
stdin → ``stdin_grace`` → SIGTERM to the group → ``term_grace`` → SIGKILL to the group,
and the root is always reaped. After the root exits the rest of its group is SIGKILLed,
so a grandchild can neither outlive the session nor hold its pipes open. If the owning
task is cancelled, the group is SIGKILLed and reaped under a shield on the way out.
(What leaves the group is found by ``_tree.py``.)

A PTY harness gets the PTY as its controlling terminal (``setsid`` + ``TIOCSCTTY``), so
^C, job control and SIGWINCH work, and it gets SIGHUP when the master closes — the
daemon's death included. Its window starts at :data:`DEFAULT_WINSIZE` and can be resized.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pty
import signal
import struct
import subprocess
import termios
from collections.abc import Sequence

import attrs
import trio

from ._tree import REAPER

#: Reads from a harness: the pipe capacity, and trio's own default.
READ_SIZE = 65536
#: A PTY's window until a client says otherwise: (rows, columns), the VT100's.
DEFAULT_WINSIZE = (24, 80)


class SpawnError(Exception):
    """The harness could not be started (missing executable, bad cwd, …)."""


@attrs.define(eq=False)
class HarnessProcess:
    """A started harness: the root process, its group, and its I/O streams."""

    process: trio.Process
    stdout: trio.abc.ReceiveStream
    stderr: trio.abc.ReceiveStream | None
    stdin: trio.abc.SendStream | None
    is_pty: bool
    master_fd: int | None = None
    _stdin_lock: trio.Lock = attrs.field(factory=trio.Lock)
    stdin_closed: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.returncode is None

    async def write(self, data: bytes) -> None:
        """Write to stdin (or the PTY); raises ``BrokenResourceError`` if it is gone."""
        if self.stdin is None or self.stdin_closed:
            raise trio.BrokenResourceError("stdin is closed")
        async with self._stdin_lock:
            await self.stdin.send_all(data)

    async def close_stdin(self) -> None:
        """EOF on stdin: how an agent CLI is asked to finish. A PTY stays open (closing
        its master would hang up the terminal, which is SIGTERM's job). Never waits for
        a write in progress: closing makes that write fail at once."""
        if self.stdin is None or self.is_pty or self.stdin_closed:
            return
        self.stdin_closed = True
        await trio.aclose_forcefully(self.stdin)

    def signal_group(self, signum: int) -> None:
        """Signal every process of the harness's group; a gone group is fine."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    async def stop(
        self,
        stdin_grace: float,
        term_grace: float,
        *,
        interrupt: bytes | None = None,
        eof: bool = True,
    ) -> int:
        """Escalate until the root exits; returns its return code (reaped).

        ``interrupt`` (a line the harness understands) is sent first, so a turn stops
        instead of finishing; then EOF on stdin — only if ``eof``: where stdin is already
        closed, or means nothing, waiting ``stdin_grace`` for it is waiting for nothing."""
        if interrupt is not None and not self.is_pty and not self.stdin_closed:
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                with trio.move_on_after(1.0):
                    await self.write(interrupt)
        if eof and not self.is_pty:
            await self.close_stdin()
            with trio.move_on_after(stdin_grace):
                return await self.process.wait()
        self.signal_group(signal.SIGTERM)
        with trio.move_on_after(term_grace):
            return await self.process.wait()
        self.signal_group(signal.SIGKILL)
        return await self.process.wait()

    async def kill_now(self) -> None:
        """SIGKILL the group and reap the root, even while being cancelled."""
        with trio.CancelScope(shield=True):
            self.signal_group(signal.SIGKILL)
            await self.process.wait()

    def resize(self, rows: int, cols: int) -> None:
        """Set the PTY's window (the harness gets SIGWINCH); raises OSError if gone."""
        if self.master_fd is None:
            raise OSError(errno.ENOTTY, "not a terminal")
        set_winsize(self.master_fd, rows, cols)

    async def aclose_streams(self) -> None:
        for stream in (self.stdin, self.stdout, self.stderr):
            if stream is not None:
                await trio.aclose_forcefully(stream)


async def spawn(
    argv: Sequence[str],
    *,
    cwd: str,
    use_pty: bool,
    env: dict[str, str] | None = None,
) -> HarnessProcess:
    """Start ``argv`` in ``cwd`` in a new session (process group). The caller waits for
    it and then calls ``REAPER.exited(pid)``."""
    try:
        if use_pty:
            return await _spawn_pty(argv, cwd, env)
        process = await _open(argv, cwd, env, subprocess.PIPE)
    except (OSError, ValueError) as exc:  # ValueError: NUL in argv, cwd or env
        raise SpawnError(
            f"failed to spawn `{argv[0]}`: {getattr(exc, 'strerror', None) or exc}"
        ) from exc
    assert process.stdout is not None and process.stderr is not None
    return HarnessProcess(
        process=process,
        stdout=process.stdout,
        stderr=process.stderr,
        stdin=process.stdin,
        is_pty=False,
    )


@attrs.frozen
class Completed:
    """A finished helper command: its exit code and what it printed."""

    returncode: int
    stdout: bytes
    stderr: bytes


async def run_command(
    argv: Sequence[str],
    *,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    stdin: bytes = b"",
    timeout: float = 60.0,
) -> Completed:
    """Run a helper program the daemon itself needs (``git``, a notification command) to
    its end, registered with the reaper as harnesses are (trio waits for it, so it is
    never reaped from under it). It runs in its own process group, which is SIGKILLed
    on timeout or cancellation. Raises :class:`SpawnError` if it cannot start and
    ``trio.TooSlowError`` after ``timeout``."""
    try:
        with REAPER.spawning():
            process = await trio.lowlevel.open_process(
                list(argv),
                cwd=cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            REAPER.started(process.pid)
    except (OSError, ValueError) as exc:
        raise SpawnError(
            f"failed to spawn `{argv[0]}`: {getattr(exc, 'strerror', None) or exc}"
        ) from exc
    assert process.stdin is not None and process.stdout is not None
    assert process.stderr is not None
    out, err = bytearray(), bytearray()

    async def collect(stream: trio.abc.ReceiveStream, into: bytearray) -> None:
        while chunk := await stream.receive_some(READ_SIZE):
            into += chunk

    async def feed(stream: trio.abc.SendStream) -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            if stdin:
                await stream.send_all(stdin)
        await stream.aclose()

    try:
        with trio.fail_after(timeout):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(feed, process.stdin)
                nursery.start_soon(collect, process.stdout, out)
                nursery.start_soon(collect, process.stderr, err)
                code = await process.wait()
    finally:
        with trio.CancelScope(shield=True):
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
            REAPER.exited(process.pid)
            for stream in (process.stdin, process.stdout, process.stderr):
                await trio.aclose_forcefully(stream)
    return Completed(code, bytes(out), bytes(err))


async def _open(
    argv: Sequence[str], cwd: str, env: dict[str, str] | None, stdio: int, tty: bool = False
) -> trio.Process:
    """Every harness starts the same way: its own session (process group), all three
    standard streams on ``stdio`` (pipes, or the PTY's child side, which then becomes
    its controlling terminal)."""
    # A daemon started where ^C is ignored (a script's `cmd &`, some service managers)
    # would hand that on: a cancel (SIGINT) would then never reach a harness.
    ignored = any(signal.getsignal(s) is signal.SIG_IGN for s in _INTERRUPTS)
    with REAPER.spawning():
        process = await trio.lowlevel.open_process(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=stdio,
            stdout=stdio,
            stderr=stdio,
            start_new_session=True,
            preexec_fn=_take_terminal if tty else (_default_interrupts if ignored else None),
        )
        REAPER.started(process.pid)  # before any other task runs: trio waits for it
    return process


#: Signals a harness must not inherit as ignored: ^C and cancel (SIGINT), ^\ (SIGQUIT).
_INTERRUPTS = (signal.SIGINT, signal.SIGQUIT)


def _default_interrupts() -> None:  # pragma: no cover - runs in the child, before exec
    """In the child: ^C and ^\\ do what they do by default (an ignored disposition would
    survive the exec; a handled one is reset by it anyway)."""
    for signum in _INTERRUPTS:
        signal.signal(signum, signal.SIG_DFL)


def _take_terminal() -> None:  # pragma: no cover - runs in the child, between fork and exec
    """In the child, after ``setsid``: make stdin (the PTY) the controlling terminal, and
    let a hangup end the harness (a daemon started under ``nohup`` ignores SIGHUP, and
    its children would inherit that: the daemon's death would then leave them running),
    as ^C and ^\\ do. Only system calls: nothing here may take a lock another thread
    could hold."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    _default_interrupts()


def set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class _PtyMaster(trio.abc.HalfCloseableStream):
    """The PTY master as a stream; EIO after the child side closes is EOF (Linux)."""

    def __init__(self, fd: int) -> None:
        self._stream = trio.lowlevel.FdStream(fd)

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        try:
            return await self._stream.receive_some(max_bytes)
        except trio.BrokenResourceError as exc:
            if isinstance(exc.__cause__, OSError) and exc.__cause__.errno == errno.EIO:
                return b""
            raise

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        return

    async def aclose(self) -> None:
        await self._stream.aclose()


async def _spawn_pty(argv: Sequence[str], cwd: str, env: dict[str, str] | None) -> HarnessProcess:
    master, slave = pty.openpty()
    try:
        set_winsize(master, *DEFAULT_WINSIZE)
        process = await _open(argv, cwd, env, slave, tty=True)
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    stream = _PtyMaster(master)
    return HarnessProcess(
        process=process, stdout=stream, stderr=None, stdin=stream, is_pty=True, master_fd=master
    )
