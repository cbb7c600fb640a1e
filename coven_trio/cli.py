"""``coven-trio`` command line: argument parsing only; the work is in ``daemon``.

Exit codes: 0 clean shutdown, 1 startup refused (home unsafe, another daemon live, socket
path too long), 2 usage error (argparse).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import trio

from . import __version__
from ._log import configure
from .config import DEFAULT_EVE_MOUNT, Config, default_home
from .daemon import Daemon, serve
from .errors import StartupError

log = logging.getLogger("coven_trio.cli")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coven-trio", description="Run coding-agent CLIs as supervised sessions."
    )
    parser.add_argument("--version", action="version", version=f"coven-trio {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run the daemon in the foreground")
    run.add_argument(
        "--home", type=Path, default=None, help="daemon home (default: $COVEN_HOME or ~/.coven)"
    )
    run.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    run.add_argument("--log-format", default="text", choices=["text", "json"])
    run.add_argument(
        "--eve-mount", default=DEFAULT_EVE_MOUNT, help="path prefix of the eve-compatible API"
    )
    return parser


async def _watch_signals(daemon: Daemon, signals: AsyncIterator[int]) -> None:
    """First SIGINT/SIGTERM: graceful shutdown. Second: stop now."""
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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure(args.log_level, args.log_format)
    mount = "/" + args.eve_mount.strip("/")
    config = Config(home=args.home or default_home(), eve_mount=mount)
    refused: list[BaseException] = []
    try:
        trio.run(_serve_until_signalled, config)
    except* StartupError as group:
        refused.extend(group.exceptions)
    for exc in refused:
        print(f"coven-trio: {exc}", file=sys.stderr)
    return 1 if refused else 0
