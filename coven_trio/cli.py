"""``coven-trio`` command line: argument parsing only; the work is in ``daemon``
(``serve``) and ``_commands`` (the client commands).

Exit codes: 0 success (a clean shutdown for ``serve``); 1 refused (``serve``: the home is
unsafe, another daemon is live, the socket path is too long; client commands: the
daemon answered an error); 2 usage error; 3 the daemon is not reachable; 4 (``status``)
a stale socket.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import trio

from . import _commands
from ._log import configure
from ._version import __version__
from .config import DEFAULT_EVE_MOUNT, Config, default_home
from .daemon import Daemon, serve
from .errors import StartupError
from .vocabulary import LaunchMode

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
    run.add_argument(
        "--store",
        default="sqlite",
        choices=["sqlite", "memory"],
        help="where sessions live: sqlite (survive restarts; the default) or memory",
    )
    _client_commands(commands)
    return parser


def _client_commands(commands: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home", type=Path, default=None, help="daemon home (default: $COVEN_HOME or ~/.coven)"
    )
    common.add_argument("--json", action="store_true", help="print JSON for programs")
    common.add_argument("--eve-mount", default=DEFAULT_EVE_MOUNT, help=argparse.SUPPRESS)
    # The same options on a command's own subcommands, without defaults: a default there
    # would overwrite what was given before the subcommand (`sessions --home X prune`).
    nested = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    nested.add_argument("--home", type=Path)
    nested.add_argument("--json", action="store_true")

    def add(name: str, run: Any, help_: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = commands.add_parser(name, parents=[common], help=help_)
        sub.set_defaults(run=run)
        return sub

    add("health", _commands.health, "the daemon's health handshake")
    add("status", _commands.status, "is a daemon running on the home? (running/stale/unreachable)")
    sessions = add("sessions", _commands.sessions, "list sessions, newest first")
    about = sessions.add_subparsers(dest="about")
    prune = about.add_parser("prune", parents=[nested], help="forget old ended sessions now")
    prune.set_defaults(run=_commands.prune)
    prune.add_argument("--older-than", type=float, metavar="DAYS", help="default: the daemon's")
    prune.add_argument("--max-bytes", type=int, help="default: the daemon's")
    archive = about.add_parser(
        "archive", parents=[nested], help="write a session (record and journal) to a file"
    )
    archive.set_defaults(run=_commands.archive)
    archive.add_argument("session")
    archive.add_argument("-o", "--output", help="file (default: <session id>.ndjson)")
    launch = add("launch", _commands.launch, "launch a session; prints its id")
    launch.add_argument("--harness", required=True, help="claude, codex, command, or a manifest id")
    launch.add_argument(
        "--project-root", type=os.path.abspath, default=".", help="project folder (default: .)"
    )
    launch.add_argument("--cwd", help="working folder inside the project root")
    launch.add_argument("--mode", choices=list(LaunchMode))
    launch.add_argument("--model")
    launch.add_argument("--title")
    launch.add_argument(
        "words", nargs=argparse.REMAINDER, help="the prompt (for `command`: the argv after --)"
    )
    tail = add("tail", _commands.tail, "follow a session's journal (replay, then live)")
    tail.add_argument("session")
    tail.add_argument("--from", dest="start", type=int, default=0, help="first index (default 0)")
    send = add("input", _commands.input_, "send input (the next message, or raw bytes)")
    send.add_argument("session")
    send.add_argument("data")
    kill = add("kill", _commands.kill, "stop a session")
    kill.add_argument("session")


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
    if args.command != "serve":
        args.home = args.home or default_home()
        return _commands.run(args.run, args)
    configure(args.log_level, args.log_format)
    try:
        config = Config(
            home=args.home or default_home(), eve_mount=args.eve_mount, store=args.store
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
