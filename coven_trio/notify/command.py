"""The command notifier: run the configured argv, the facts in its environment.

A title is whatever a prompt or an agent said, so it is hostile until proven otherwise.
Nothing of a notification ever reaches an argv or a shell: the configured argv runs as
written (no shell), the facts go into ``COVEN_*`` environment variables (and the whole
notification, as JSON, on stdin). Values are made safe to hold and to print: NUL (which
an environment cannot hold) and other control characters except tab and newline become
U+FFFD, as do lone surrogates; a value is cut at :data:`MAX_ENV_VALUE` characters.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import ClassVar

from .._json import dumps
from ..harness._process import SpawnError, run_command
from ._event import Notification
from .config import CommandSpec
from .notifier import DeliveryError, Notifier

#: Longest value of one variable, in characters. Linux refuses a single environment
#: string over 128 KiB (MAX_ARG_STRLEN) and the whole over ~2 MiB; a notification's
#: facts are a line or two, the rest is on stdin.
MAX_ENV_VALUE = 8192
#: How much of a failing command's stderr is kept as its error.
STDERR_TAIL = 300

#: C0 controls but tab and newline, DEL, C1 controls, and lone surrogates.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def sanitize(value: str) -> str:
    """``value`` as an environment value that is safe to hold, log and print."""
    value = _UNSAFE.sub("\ufffd", value)
    if len(value) > MAX_ENV_VALUE:
        value = value[: MAX_ENV_VALUE - 1] + "…"
    return value


#: The variable that marks a session's processes (``harness._tree.MARKER``).
SESSION_MARKER = "COVEN_SESSION_ID"


def command_env(
    notification: Notification, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The daemon's environment (``base``), so ``notify-send`` finds the desktop, plus
    every fact of ``notification`` as a ``COVEN_*`` variable (always all of them, so an
    inherited one never passes for a fact)."""
    facts = {
        "COVEN_EVENT": str(notification.kind),
        "COVEN_SESSION": notification.session_id,
        "COVEN_PROJECT": notification.project,
        "COVEN_HARNESS": notification.harness,
        "COVEN_TITLE": notification.title,
        "COVEN_SUMMARY": notification.summary,
        "COVEN_AT": notification.at,
        "COVEN_URL": notification.url or "",
        "COVEN_NOTIFICATION_ID": notification.id,
        "COVEN_SEQ": str(notification.seq),
    }
    env = dict(os.environ if base is None else base)
    # COVEN_SESSION_ID marks a session's own processes, which are SIGKILLed when it
    # ends (harness/_tree.py): a notifier about a session must never carry it.
    env.pop(SESSION_MARKER, None)
    env.update((key, sanitize(value)) for key, value in facts.items())
    return env


class CommandNotifier(Notifier):
    """Runs ``spec.argv`` once per notification (no retries: a local program that failed
    will fail again, and it has already been given ``timeout`` seconds)."""

    type: ClassVar[str] = "command"
    spec: CommandSpec

    def __init__(self, spec: CommandSpec) -> None:
        super().__init__(spec)

    async def deliver(self, notification: Notification) -> None:
        argv = self.spec.argv
        try:
            done = await run_command(
                argv,
                env=command_env(notification),
                stdin=dumps(notification.as_json()) + b"\n",
                timeout=self.spec.timeout,
            )
        except SpawnError as exc:
            raise DeliveryError(str(exc), retryable=False) from None
        if done.returncode == 0:
            return
        how = (
            f"was killed by signal {-done.returncode}"
            if done.returncode < 0
            else f"exited with {done.returncode}"
        )
        tail = sanitize(done.stderr.decode("utf-8", "replace").strip()[-STDERR_TAIL:])
        raise DeliveryError(f"`{argv[0]}` {how}" + (f": {tail}" if tail else ""), retryable=False)
