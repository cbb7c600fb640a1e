"""What a daemon keeps tidy beside its sessions: the processes a previous daemon left
running (found in the store at startup) and the store's retention (pruned at startup,
then every ``STORE_PRUNE_INTERVAL``)."""

from __future__ import annotations

import logging
from typing import Any

import trio

from .config import STORE_PRUNE_INTERVAL, Config
from .harness._tree import stop_leftovers
from .store import Orphan, Store

log = logging.getLogger("coven_trio.daemon")


def orphan_note(previous: dict[str, Any] | None) -> str:
    who = "The previous daemon"
    if previous is not None and isinstance(previous.get("pid"), int):
        who += f" (pid {previous['pid']}, started {previous.get('startedAt', '?')})"
    return f"{who} stopped while this session was live; its outcome is unknown."


async def stop_orphans(orphans: list[Orphan], grace: float) -> None:
    """Stop what a previous daemon left running of its sessions, concurrently."""

    async def stop(orphan: Orphan) -> None:
        problems = await stop_leftovers(orphan.session_id, orphan.processes, grace)
        for problem in problems:
            log.warning("orphaned session %s: could not stop %s", orphan.session_id, problem)

    if orphans:
        log.warning("%d session(s) were live when the previous daemon stopped", len(orphans))
    async with trio.open_nursery() as nursery:
        for orphan in orphans:
            nursery.start_soon(stop, orphan)


async def prune_periodically(store: Store, config: Config) -> None:
    """Retention of the store: at startup, then every STORE_PRUNE_INTERVAL."""
    while True:
        try:
            pruned = await store.prune(config.store_max_age_days * 86400, config.store_max_bytes)
        except Exception:  # a failing disk must not end the daemon; health says so
            log.exception("pruning the store failed")
        else:
            if pruned.sessions:
                log.info(
                    "pruned %d sessions (%d bytes) from the store", pruned.sessions, pruned.bytes
                )
        await trio.sleep(STORE_PRUNE_INTERVAL)
