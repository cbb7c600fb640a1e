"""Where sessions outlive the daemon: an embedded SQLite store behind the journals.

The in-memory journal stays the hot path: live tailers read memory, and every line a
journal writes is also handed to the store's write-behind queue, which a single writer
commits in batches (group commit) off the event loop. Reads of sessions that are no
longer in memory — ended long ago, or from a previous daemon — come from the store,
byte-identical to what live clients saw.

:class:`Store` is the memory-only store (``--store memory``: nothing survives a restart);
:func:`open_store` gives the SQLite one (the default), or raises :class:`StoreUnavailable`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._base import Orphan, Pruned, Store, StoredSession, StoreUnavailable

STORE_FILE = "coven-trio.sqlite3"


def open_store(home: Path, **limits: Any) -> Store:
    """The SQLite store in ``home``; raises :class:`StoreUnavailable` with the reason."""
    from ._sqlite import SqliteStore

    return SqliteStore(home / STORE_FILE, **limits)


__all__ = [
    "STORE_FILE",
    "Orphan",
    "Pruned",
    "Store",
    "StoreUnavailable",
    "StoredSession",
    "open_store",
]
