"""Frame a byte stream into lines, with a maximum line length.

Pipes deliver arbitrary chunks (trio reads up to 64 KiB); lines are ours to find. A line
longer than ``max_line`` is not buffered: its bytes are counted and discarded up to the
next newline, and a :class:`Truncated` marker takes its place, so a 20 MiB line costs at
most ``max_line`` bytes of memory and is reported, never silently lost.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Truncated:
    """A line that exceeded the limit; ``dropped`` bytes of it were discarded."""

    dropped: int


class LineFramer:
    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self._discarding = False
        self._dropped = 0

    def feed(self, data: bytes) -> list[bytes | Truncated]:
        """Lines completed by ``data`` (without their ``\\n``), in order."""
        out: list[bytes | Truncated] = []
        start = 0
        while True:
            newline = data.find(b"\n", start)
            if newline < 0:
                self._keep(data[start:])
                return out
            piece = data[start:newline]
            if self._discarding:
                out.append(Truncated(self._dropped + len(piece)))
                self._discarding, self._dropped = False, 0
            elif len(self._buf) + len(piece) > self.max_line:
                out.append(Truncated(len(self._buf) + len(piece)))
                self._buf.clear()
            elif self._buf:
                self._buf += piece
                out.append(bytes(self._buf))
                self._buf.clear()
            else:
                out.append(piece)
            start = newline + 1

    def _keep(self, rest: bytes) -> None:
        if self._discarding:
            self._dropped += len(rest)
        elif len(self._buf) + len(rest) > self.max_line:
            self._discarding = True
            self._dropped = len(self._buf) + len(rest)
            self._buf.clear()
        else:
            self._buf += rest

    def flush(self) -> list[bytes | Truncated]:
        """At EOF: the unterminated last line, if any."""
        if self._discarding:
            self._discarding = False
            return [Truncated(self._dropped)]
        if self._buf:
            line = bytes(self._buf)
            self._buf.clear()
            return [line]
        return []
