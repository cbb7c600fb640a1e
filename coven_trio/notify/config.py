"""``<home>/notify.toml``: which notifiers run, for which events, with which limits.

```toml
[[notifier]]
type = "command"
command = ["notify-send", "coven-trio"]
events = ["needs_you", "failed"]

[[notifier]]
type = "webhook"
url = "https://hooks.example.com/coven"
secret = "…"
```

The file can make the daemon run a program, so it is read as manifests and
``agents.toml`` are: refused when another user owns it or others may write it, and also
when it is a symlink or not a regular file (opened with ``O_NOFOLLOW``, checked on the
open descriptor, so what is checked is what is read). Every mistake is an error naming
the notifier and the key: a typo must not silently turn notifications off.
docs/notifications.md is the reference.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any

import attrs

from .._defaults import NOTIFY_FILE as NOTIFY_FILE
from ._event import ALL_KINDS, NotificationKind
from ._http import parse_url

#: A notifier list is a few hundred bytes; anything this big is not one.
MAX_CONFIG_BYTES = 1024 * 1024
#: Per delivery attempt: a desktop notifier answers in milliseconds, a webhook in well
#: under a second; ten seconds only ever catches a stuck one.
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 300.0
#: Notifications waiting per notifier before the oldest is dropped. A daemon publishes a
#: handful per session, so 64 is many minutes of a receiver being down.
DEFAULT_QUEUE = 64
MAX_QUEUE = 10_000
#: Webhook attempts per notification: with the backoff below, 0.5 + 1 + 2 + 4 s of
#: waiting, enough to ride out a receiver's restart.
DEFAULT_ATTEMPTS = 5
MAX_ATTEMPTS = 20
#: The first retry's delay; each next one doubles, up to MAX_BACKOFF.
DEFAULT_BACKOFF = 0.5
MAX_BACKOFF = 30.0

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: RFC 9110 token characters: what a header name may be made of.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: Headers the notifier writes itself: framing, and everything a receiver verifies.
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "content-type", "transfer-encoding", "connection", "te"}
)


class NotifyConfigError(ValueError):
    """``notify.toml`` cannot be used; the message says where and why."""


class NotifierType(StrEnum):
    COMMAND = "command"
    WEBHOOK = "webhook"


@attrs.frozen(kw_only=True)
class NotifierSpec:
    """What every notifier has: a name, an event filter, and its queue and time limits."""

    name: str
    events: frozenset[NotificationKind] = ALL_KINDS
    quiet_when_attached: bool = True
    queue: int = DEFAULT_QUEUE
    timeout: float = DEFAULT_TIMEOUT
    #: Deliveries per notification (1: no retry) and the first retry's delay.
    attempts: int = 1
    backoff: float = DEFAULT_BACKOFF


@attrs.frozen(kw_only=True)
class CommandSpec(NotifierSpec):
    """Run ``argv`` as is, the facts in its environment (never in its arguments)."""

    argv: tuple[str, ...]


@attrs.frozen(kw_only=True)
class WebhookSpec(NotifierSpec):
    """POST the notification as JSON to ``url``, signed with ``secret``."""

    url: str
    secret: str = attrs.field(repr=False)
    #: Kept out of ``repr`` with the secret: they may hold a token.
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), repr=False)
    attempts: int = DEFAULT_ATTEMPTS


_COMMON_KEYS = ("type", "name", "events", "quiet_when_attached", "queue", "timeout")
_KEYS = {
    NotifierType.COMMAND: (*_COMMON_KEYS, "command"),
    NotifierType.WEBHOOK: (*_COMMON_KEYS, "url", "secret", "headers", "attempts", "backoff"),
}


def read_trusted(path: Path) -> str | None:
    """The text of a configuration file we may act on, or None if there is none.

    Raises :class:`NotifyConfigError` for a symlink, a non-regular file, a file another
    user owns or others may write (the rules of ``_home.distrust``), or one too big."""
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK  # a FIFO never blocks
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotifyConfigError(f"{path}: not loaded: it is a symlink") from None
        raise NotifyConfigError(f"{path}: not loaded: cannot open it: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        reason = None
        if not stat.S_ISREG(st.st_mode):
            reason = "it is not a regular file"
        elif st.st_uid != os.geteuid():
            reason = f"owned by uid {st.st_uid}, not by us (uid {os.geteuid()})"
        elif st.st_mode & 0o022:
            reason = f"writable by others (mode {stat.S_IMODE(st.st_mode):04o}); chmod go-w it"
        elif st.st_size > MAX_CONFIG_BYTES:
            reason = f"it is {st.st_size} bytes; at most {MAX_CONFIG_BYTES} are read"
        if reason is not None:
            raise NotifyConfigError(f"{path}: not loaded: {reason}")
        raw = b""
        while len(raw) <= MAX_CONFIG_BYTES and (chunk := os.read(fd, 65536)):
            raw += chunk
    finally:
        os.close(fd)
    if len(raw) > MAX_CONFIG_BYTES:  # it grew after the check
        raise NotifyConfigError(f"{path}: not loaded: it is over {MAX_CONFIG_BYTES} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise NotifyConfigError(f"{path}: not loaded: it is not UTF-8") from None


def load_config(home: Path) -> list[NotifierSpec]:
    """The notifiers ``<home>/notify.toml`` configures; none without the file."""
    path = home / NOTIFY_FILE
    text = read_trusted(path)
    if text is None:
        return []
    return parse_config(text, source=str(path))


def parse_config(text: str, *, source: str = NOTIFY_FILE) -> list[NotifierSpec]:
    """Every notifier of a ``notify.toml`` text; raises :class:`NotifyConfigError`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise NotifyConfigError(f"{source}: not TOML: {exc}") from None
    for key in data:
        if key != "notifier":
            raise NotifyConfigError(
                f"{source}: unknown key `{key}` (the file holds `[[notifier]]` tables)"
            )
    tables = data.get("notifier", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise NotifyConfigError(f"{source}: `notifier` must be an array of tables ([[notifier]])")
    specs: list[NotifierSpec] = []
    for index, table in enumerate(tables, start=1):
        try:
            spec = _spec(index, table)
        except ValueError as exc:
            raise NotifyConfigError(f"{source}: {exc}") from None
        if any(s.name == spec.name for s in specs):
            raise NotifyConfigError(f"{source}: two notifiers are named `{spec.name}`")
        specs.append(spec)
    return specs


def _spec(index: int, table: dict[str, Any]) -> NotifierSpec:
    name = table.get("name")
    where = f"notifier {index}" + (f" (`{name}`)" if isinstance(name, str) else "")
    kind = table.get("type")
    if kind not in tuple(NotifierType):
        raise ValueError(f"{where}: `type` must be `command` or `webhook`, got {kind!r}")
    kind = NotifierType(kind)
    for key in table:
        if key not in _KEYS[kind]:
            known = ", ".join(_KEYS[kind])
            raise ValueError(f"{where}: unknown key `{key}` for a {kind} notifier (known: {known})")
    if name is None:
        name = f"{kind}-{index}"
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"{where}: `name` must be 1-64 letters, digits, `.`, `_` or `-`, got {name!r}"
        )
    common: dict[str, Any] = {
        "name": name,
        "events": _events(where, table.get("events")),
        "quiet_when_attached": _bool(where, table, "quiet_when_attached", True),
        "queue": _int(where, table, "queue", DEFAULT_QUEUE, 1, MAX_QUEUE),
        "timeout": _seconds(where, table, "timeout", DEFAULT_TIMEOUT, MAX_TIMEOUT, zero_ok=False),
    }
    if kind is NotifierType.COMMAND:
        return CommandSpec(argv=_argv(where, table.get("command")), **common)
    url = table.get("url")
    if not isinstance(url, str):
        raise ValueError(f"{where}: `url` (a string) is required")
    parse_url(url)  # raises ValueError naming what is wrong
    secret = table.get("secret")
    if not isinstance(secret, str) or not secret:
        raise ValueError(f"{where}: `secret` (a non-empty string) is required; it signs each body")
    return WebhookSpec(
        url=url,
        secret=secret,
        headers=_headers(where, table.get("headers", {})),
        attempts=_int(where, table, "attempts", DEFAULT_ATTEMPTS, 1, MAX_ATTEMPTS),
        backoff=_seconds(where, table, "backoff", DEFAULT_BACKOFF, MAX_BACKOFF, zero_ok=True),
        **common,
    )


def _events(where: str, value: Any) -> frozenset[NotificationKind]:
    if value is None:
        return ALL_KINDS
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: `events` must be a list of strings")
    for item in value:
        if item not in tuple(NotificationKind):
            known = ", ".join(NotificationKind)
            raise ValueError(f"{where}: unknown event `{item}` in `events` (known: {known})")
    if not value:
        raise ValueError(f"{where}: `events` is empty; leave it out to hear every event")
    return frozenset(NotificationKind(v) for v in value)


def _bool(where: str, table: dict[str, Any], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{where}: `{key}` must be true or false")
    return value


def _int(where: str, table: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{where}: `{key}` must be a whole number from {low} to {high}")
    return value


def _seconds(
    where: str, table: dict[str, Any], key: str, default: float, high: float, *, zero_ok: bool
) -> float:
    value = table.get(key, default)
    number = not isinstance(value, bool) and isinstance(value, int | float)
    if not number or not (value >= 0 if zero_ok else value > 0) or value > high:
        low = "0" if zero_ok else "above 0"
        raise ValueError(f"{where}: `{key}` must be a number of seconds, {low} to {high:g}")
    return float(value)


def _argv(where: str, value: Any) -> tuple[str, ...]:
    strings = isinstance(value, list) and all(isinstance(v, str) for v in value)
    if not strings or not value or not value[0]:
        raise ValueError(
            f'{where}: `command` must be a non-empty list of strings, e.g. ["notify-send", "hi"]'
        )
    if any("\x00" in v for v in value):
        raise ValueError(f"{where}: `command` holds a NUL character")
    return tuple(value)


def _headers(where: str, value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: `headers` must be a table of strings")
    headers = []
    for key, text in value.items():
        lower = key.lower()
        if not _HEADER_NAME.fullmatch(key):
            raise ValueError(f"{where}: header name {key!r} is not a valid HTTP header name")
        if lower in _RESERVED_HEADERS or lower.startswith("x-coven-"):
            raise ValueError(f"{where}: header `{key}` is set by coven-trio itself")
        if not isinstance(text, str) or not all(c == "\t" or " " <= c <= "~" for c in text):
            raise ValueError(
                f"{where}: header `{key}` must be a string of printable ASCII characters"
            )
        headers.append((key, text))
    return tuple(headers)
