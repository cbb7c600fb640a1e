"""The person's input from standard input, read so that waiting for it can be given up.

The chat must stop waiting at ``choose >`` when the question is answered from the inbox
or the dashboard. A thread blocked in ``input()`` cannot be stopped and would take the
person's next line for the abandoned prompt; waiting for the descriptor to be readable
can be. The descriptor stays blocking: a terminal's stdin and stdout are one open file,
and a non-blocking stdout would fail a write the terminal is slow to take. The terminal
keeps its own line mode (the kernel's line editing: backspace, ^U, ^W), and a line half
typed when a read is given up is read by the next prompt.
"""

from __future__ import annotations

import os
import stat
import sys

import trio

READ_SIZE = 4096


async def read_some(fd: int) -> bytes:
    """Bytes from ``fd`` once it has some (``b""`` at its end); cancellable while waiting.
    A regular file cannot be waited on (epoll refuses it): it is read in a thread."""
    if stat.S_ISREG(os.fstat(fd).st_mode):
        return await trio.to_thread.run_sync(os.read, fd, READ_SIZE)
    await trio.lowlevel.wait_readable(fd)
    return os.read(fd, READ_SIZE)


class Lines:
    """``line = await Lines().read()`` (None at the end of the input)."""

    def __init__(self, fd: int | None = None) -> None:
        self._fd = sys.stdin.fileno() if fd is None else fd
        self._buffer = b""
        self._ended = False

    async def read(self) -> str | None:
        """The next line without its newline; None once the input has ended (Ctrl-D).
        Cancelling it loses nothing: what was read stays for the next call."""
        while b"\n" not in self._buffer:
            if self._ended:
                return None
            data = await read_some(self._fd)
            if not data:
                self._ended = True
                if self._buffer:  # a last line without a newline
                    line, self._buffer = self._buffer, b""
                    return line.decode(errors="replace")
                return None
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace").rstrip("\r")
