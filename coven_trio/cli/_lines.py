"""The person's lines from standard input, read so that waiting for one can be given up.

The chat must stop waiting at ``choose >`` when the question is answered from the inbox
or the dashboard. A thread blocked in ``input()`` cannot be stopped and would take the
person's next line for the abandoned prompt; a trio stream over stdin can be. The
terminal stays in its own line mode (the kernel's line editing: backspace, ^U, ^W), and
a line half typed when a read is given up is read by the next prompt.
"""

from __future__ import annotations

import os
import stat
import sys
from types import TracebackType

import trio


class Lines:
    """``async with Lines() as lines: line = await lines.read()`` (None at end of input)."""

    def __init__(self, fd: int | None = None) -> None:
        self._fd = sys.stdin.fileno() if fd is None else fd
        self._stream: trio.lowlevel.FdStream | None = None
        self._buffer = b""
        self._ended = False

    async def __aenter__(self) -> Lines:
        # A regular file cannot be waited on (epoll refuses it): it is read in a thread,
        # which never blocks for long on a file.
        if not stat.S_ISREG(os.fstat(self._fd).st_mode):
            # a dup: closing the stream must not close our stdin (and it restores the
            # descriptor's blocking mode, which the shell shares)
            self._stream = trio.lowlevel.FdStream(os.dup(self._fd))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stream is not None:
            await self._stream.aclose()

    async def _receive(self) -> bytes:
        if self._stream is not None:
            return await self._stream.receive_some(4096)
        return await trio.to_thread.run_sync(os.read, self._fd, 4096)

    async def read(self) -> str | None:
        """The next line without its newline; None once the input has ended (Ctrl-D).
        Cancelling it loses nothing: what was read stays for the next call."""
        while b"\n" not in self._buffer:
            if self._ended:
                return None
            data = await self._receive()
            if not data:
                self._ended = True
                if self._buffer:  # a last line without a newline
                    line, self._buffer = self._buffer, b""
                    return line.decode(errors="replace")
                return None
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace").rstrip("\r")
