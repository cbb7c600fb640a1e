"""Daemon configuration: where the home is, and every limit with the reason for its value."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ._defaults import DEFAULT_EVE_MOUNT as DEFAULT_EVE_MOUNT
from ._defaults import MAX_SOCKET_PATH_BYTES as MAX_SOCKET_PATH_BYTES
from ._defaults import SOCKET_NAME as SOCKET_NAME
from ._defaults import default_home as default_home

if TYPE_CHECKING:
    from .store import Store

# --- HTTP transport limits (spec §3) -------------------------------------------------
#: Largest request head; the real Coven client caps headers at 64 KiB too. Past it: 431.
MAX_HEAD_BYTES = 64 * 1024
#: Largest request body; the Rust daemon's MAX_SOCKET_BODY_BYTES. Past it: 413.
MAX_BODY_BYTES = 4 * 1024 * 1024
#: A request head must arrive within this many seconds of its first byte (or of accept,
#: for a connection's first request). Matches h11's example server. Past it: 408.
HEAD_TIMEOUT = 10.0
#: A body must arrive within this many seconds once its head was read; 4 MiB over a local
#: socket takes milliseconds, so this only ever catches stalled writers. Past it: 408.
BODY_TIMEOUT = 30.0
#: An idle keep-alive connection is closed (quietly) after this long; the Rust daemon's
#: socket I/O timeout.
IDLE_TIMEOUT = 60.0
#: After answering on a connection we must close, keep reading (and discarding) for this
#: long so a client still writing its body can read our answer instead of EPIPE.
LINGER_TIMEOUT = 2.0
#: Concurrent connections; past it new ones get 503 capacity_exhausted. Generous: each
#: idle connection costs one parked task and one fd.
MAX_CONNECTIONS = 1024
#: Events endpoint pages stop before this many bytes (the Rust daemon's response budget).
MAX_EVENTS_RESPONSE_BYTES = 4 * 1024 * 1024 - 1
#: A streaming reader (NDJSON, WebSocket) that takes no batch (at most 1 MiB) for this
#: long is disconnected, and what it held is freed.
SEND_TIMEOUT = 30.0
#: Session titles are cut to this many characters (a title defaults to the prompt).
MAX_TITLE_CHARS = 200
#: The bare-array session list stops before this many bytes (use ``limit``/``cursor``).
SESSION_LIST_MAX_BYTES = 4 * 1024 * 1024

# --- Sessions and harnesses (spec §6) ------------------------------------------------
#: After stdin is closed, how long a harness may take to exit by itself (Claude flushes
#: its transcript on EOF; the Claude Agent SDK waits 5 s too).
STDIN_GRACE = 5.0
#: After SIGTERM to the process group, how long before SIGKILL (hypercorn's 3 s grace).
TERM_GRACE = 3.0
#: Daemon shutdown: total budget for stopping every session and finishing responses.
SHUTDOWN_GRACE = 10.0
#: A single harness output line longer than this is dropped with an ``output_truncated``
#: entry (spec §6). Claude's SDK caps a message at 1 MiB; tool results can be larger.
MAX_LINE_BYTES = 8 * 1024 * 1024
#: Per-session journal budget. Past it, content entries (output, deltas, messages, tool
#: calls and results, stderr, native events) are dropped and counted; lifecycle entries
#: always land. A long Claude Code session journals a few MiB.
JOURNAL_MAX_BYTES = 64 * 1024 * 1024
#: Room above that for lifecycle entries; a journal past both ends its session
#: (``journal_full``), so no session can grow without bound.
JOURNAL_RESERVE_BYTES = 16 * 1024 * 1024
#: Largest data of one entry (encoded). Bigger content is dropped, bigger lifecycle data
#: cut; so every entry, escaped into an EventRecord (at most twice as long), fits an
#: events page (MAX_EVENTS_RESPONSE_BYTES).
MAX_ENTRY_BYTES = 1024 * 1024
#: Every journal of the daemon together. Past it the oldest-ended sessions are forgotten
#: first, then live sessions' content is dropped.
JOURNALS_MAX_BYTES = 1024 * 1024 * 1024
#: Live sessions at once; past it launches get 503 capacity_exhausted.
MAX_SESSIONS = 256
#: Records of ended sessions kept in memory for listings (older ones are read from the
#: store); with ``--store memory``, the ended sessions kept at all (the older forgotten).
MAX_RETAINED_SESSIONS = 100
#: Journals of ended sessions kept in memory (recently read, least recently read dropped
#: first): with the durable store an ended session's journal leaves memory as soon as
#: the store has it and is read back from there, so this bounds what ended sessions
#: hold however many there are.
ENDED_CACHE_BYTES = 64 * 1024 * 1024

# --- The store (docs/storage.md) -------------------------------------------------------
#: Ended sessions older than this are pruned from the store (hourly, and at startup).
STORE_MAX_AGE_DAYS = 30.0
#: The store keeps at most this much journal; past it the oldest ended sessions go.
STORE_MAX_BYTES = 2 * 1024 * 1024 * 1024
#: The store's write-behind queue; past it, queued content is replaced by a marker
#: (lifecycle entries always queue). 64 MiB is seconds of the fastest harness output.
STORE_QUEUE_BYTES = 64 * 1024 * 1024
#: How often the store is pruned.
STORE_PRUNE_INTERVAL = 3600.0

#: An idle eve stream gets a blank line this often, so proxies and clients see it alive
#: (eve #2527); blank lines are skipped by eve's client and do not move its cursor.
#: Today's client reconnects after 15 s of silence: 5 s leaves it two chances to spare.
EVE_HEARTBEAT = 5.0


_MOUNT = re.compile(r"(/[A-Za-z0-9._~-]+)+")


def normalize_mount(value: str) -> str:
    """``eve/v1``, ``/eve/v1/`` → ``/eve/v1``. Raises ValueError for a mount that
    could not be routed (empty, odd characters, or inside ``/api/``)."""
    mount = "/" + value.strip().strip("/")
    if not _MOUNT.fullmatch(mount) or mount == "/api" or mount.startswith("/api/"):
        raise ValueError(
            f"invalid eve mount {value!r}: use a path like /eve/v1 "
            "(letters, digits, . _ ~ -; not under /api)"
        )
    return mount


def _address(instance: Any, attribute: Any, value: Any) -> None:
    if value is None:
        return
    host, colon, port = str(value).rpartition(":")
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"http must be HOST:PORT (e.g. 127.0.0.1:8421), got {value!r}")


def _store_kind(instance: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, str) and value not in ("sqlite", "memory"):
        raise ValueError(f"store must be `sqlite` or `memory`, got {value!r}")


@attrs.define(kw_only=True)
class Config:
    """Everything ``serve`` needs. Defaults are the documented limits above.

    Tests shrink the timeouts and graces; nothing else should need to.
    """

    home: Path = attrs.field(factory=default_home, converter=Path)
    eve_mount: str = attrs.field(default=DEFAULT_EVE_MOUNT, converter=normalize_mount)
    eve_heartbeat: float = EVE_HEARTBEAT
    max_head_bytes: int = MAX_HEAD_BYTES
    max_body_bytes: int = MAX_BODY_BYTES
    head_timeout: float = HEAD_TIMEOUT
    body_timeout: float = BODY_TIMEOUT
    idle_timeout: float = IDLE_TIMEOUT
    linger_timeout: float = LINGER_TIMEOUT
    max_connections: int = MAX_CONNECTIONS
    stdin_grace: float = STDIN_GRACE
    term_grace: float = TERM_GRACE
    shutdown_grace: float = SHUTDOWN_GRACE
    max_line_bytes: int = MAX_LINE_BYTES
    journal_max_bytes: int = JOURNAL_MAX_BYTES
    journal_reserve_bytes: int = JOURNAL_RESERVE_BYTES
    max_entry_bytes: int = MAX_ENTRY_BYTES
    journals_max_bytes: int = JOURNALS_MAX_BYTES
    send_timeout: float = SEND_TIMEOUT
    max_sessions: int = MAX_SESSIONS
    max_retained_sessions: int = MAX_RETAINED_SESSIONS
    ended_cache_bytes: int = ENDED_CACHE_BYTES
    #: ``"sqlite"`` (durable, the default), ``"memory"`` (nothing survives a restart), or a
    #: :class:`coven_trio.store.Store` an embedding program supplies.
    store: str | Store = attrs.field(default="sqlite", validator=_store_kind)
    store_max_age_days: float = STORE_MAX_AGE_DAYS
    store_max_bytes: int = STORE_MAX_BYTES
    store_queue_bytes: int = STORE_QUEUE_BYTES
    #: Refuse peers whose uid differs from ours (spec §3). Only tests of the refusal
    #: path itself would turn it off.
    check_peer_uid: bool = True
    #: Adopt harnesses' orphaned descendants (PR_SET_CHILD_SUBREAPER), so what escapes a
    #: session's process group is still ours to stop and reap. A program that embeds the
    #: daemon and minds its own orphans may turn it off.
    subreaper: bool = True
    #: Also reap children the daemon did not start (with ``subreaper``): right when the
    #: daemon is its own process (``coven-trio serve`` sets it), wrong for a program that
    #: embeds it and waits for children of its own.
    reap_strangers: bool = False
    #: ``HOST:PORT`` of the web dashboard's listener at start (``serve --http``); None:
    #: off until ``coven-trio web`` asks for it (docs/web.md).
    http: str | None = attrs.field(default=None, validator=_address)

    @property
    def socket_path(self) -> Path:
        return self.home / SOCKET_NAME
