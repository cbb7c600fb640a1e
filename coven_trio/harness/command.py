"""``command``: any program (``{"command": [argv…]}``), raw output.

``nonInteractive`` (default) runs it on pipes: stdout chunks become ``output`` entries,
stderr lines ``stderr``; a prompt, if given, is written to stdin as one line, and stdin
stays open for ``/input``. ``interactive`` runs it on a PTY.
"""

from __future__ import annotations

import attrs

from ._driver import Driver


@attrs.define
class CommandDriver(Driver):
    argv: tuple[str, ...] = ()

    def first_argv(self, prompt: str) -> list[str]:
        return list(self.argv)

    def prompt_stdin(self, prompt: str) -> bytes | None:
        return (prompt + "\n").encode() if prompt and not self.use_pty else None
