"""Pairing: a short window in which one device may trade a one-time code for a token.

The code is 8 characters from a 32-letter alphabet (40 bits) without look-alikes (no 0,
O, 1, I), so it can be read off a terminal and typed on a phone. Guessing is bounded
three ways: the window closes after ``seconds`` (2 minutes by default), after the first
success, and after ``MAX_ATTEMPTS`` wrong codes in it, whoever sent them; the failure
limiter also slows each address down.
"""

from __future__ import annotations

import secrets

import attrs
import trio

from ._tokens import Scope, same

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_CHARS = 8
PAIR_SECONDS = 120.0
MAX_PAIR_SECONDS = 900.0
MAX_ATTEMPTS = 5


def normalize(code: str) -> str:
    return "".join(c for c in code.upper() if c not in " -")


@attrs.define
class PairingWindow:
    code: str
    scope: Scope
    name: str | None
    deadline: float
    attempts: int = 0

    @property
    def display(self) -> str:
        return f"{self.code[:4]}-{self.code[4:]}"

    @property
    def remaining(self) -> float:
        return max(0.0, self.deadline - trio.current_time())


class Pairing:
    """At most one window open at a time; opening another replaces it."""

    def __init__(self) -> None:
        self.window: PairingWindow | None = None

    def open(
        self, scope: Scope, name: str | None = None, seconds: float = PAIR_SECONDS
    ) -> PairingWindow:
        seconds = min(max(seconds, 10.0), MAX_PAIR_SECONDS)
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_CHARS))
        self.window = PairingWindow(code, scope, name, trio.current_time() + seconds)
        return self.window

    def current(self) -> PairingWindow | None:
        if self.window is not None and self.window.remaining <= 0:
            self.window = None
        return self.window

    def close(self) -> None:
        self.window = None

    def claim(self, code: str) -> tuple[PairingWindow | None, str]:
        """The window ``code`` opens (closing it), or None and why not."""
        window = self.current()
        if window is None:
            return None, "No pairing window is open: run `coven-trio web pair`."
        if same(normalize(code), window.code):
            self.window = None
            return window, ""
        window.attempts += 1
        if window.attempts >= MAX_ATTEMPTS:
            self.window = None
            return None, "Wrong code; too many wrong codes, so pairing is closed."
        return None, "Wrong pairing code."
