"""``coven-trio serve``: the daemon in the foreground, until a signal stops it.

The first SIGINT or SIGTERM shuts it down gracefully; a second stops it at once.
Exit codes: 0 a clean shutdown; 1 refused (the home is unsafe, another daemon is live,
the socket path is too long); 2 a bad option.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import AsyncIterator

import trio

from ._defaults import default_home
from ._log import configure
from .config import Config
from .daemon import Daemon, serve
from .errors import StartupError


async def _watch_signals(daemon: Daemon, signals: AsyncIterator[int]) -> None:
    """First SIGINT/SIGTERM: graceful shutdown. Second: stop now."""
    import logging

    log = logging.getLogger("coven_trio.cli")
    count = 0
    async for signum in signals:
        count += 1
        if count == 1:
            log.info("received %s; shutting down gracefully", signal.Signals(signum).name)
            daemon.shutdown()
        else:
            log.warning("received %s again; stopping now", signal.Signals(signum).name)
            daemon.force_stop()


async def _serve_until_signalled(config: Config) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            daemon: Daemon = await nursery.start(serve, config)
            watcher = trio.CancelScope()

            async def watch() -> None:
                with watcher:
                    await _watch_signals(daemon, signals)

            nursery.start_soon(watch)
            await daemon.stopped.wait()
            watcher.cancel()


def run(args: argparse.Namespace) -> int:
    configure(args.log_level, args.log_format)
    try:
        config = Config(
            home=args.home or default_home(),
            eve_mount=args.eve_mount,
            store=args.store,
            http=args.http,
            reap_strangers=True,  # the daemon is its own process: every child is ours
        )
    except ValueError as invalid:
        print(f"coven-trio: {invalid}", file=sys.stderr)
        return 2
    refused: list[BaseException] = []
    try:
        trio.run(_serve_until_signalled, config)
    except* StartupError as group:
        refused.extend(group.exceptions)
    for exc in refused:
        print(f"coven-trio: {exc}", file=sys.stderr)
    return 1 if refused else 0
