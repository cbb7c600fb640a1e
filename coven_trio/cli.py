"""``coven-trio`` command line: argument parsing only; the work is in ``daemon``
(``serve``), ``_commands`` (the client commands for programs) and ``_terminal`` (the
commands for a person: run, attach, sessions, doctor, daemon, completion).

Exit codes: 0 success (a clean shutdown for ``serve``); 1 refused (``serve``: the home is
unsafe, another daemon is live, the socket path is too long; client commands: the
daemon answered an error); 2 usage error; 3 the daemon is not reachable; 4 (``status``)
a stale socket.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._defaults import DEFAULT_EVE_MOUNT, default_home
from ._version import __version__
from .vocabulary import LaunchMode

if TYPE_CHECKING:
    from logging import Logger

    from .config import Config
    from .daemon import Daemon


def _log() -> Logger:
    import logging  # only the daemon logs; a client command does not import logging

    return logging.getLogger("coven_trio.cli")


def _command(name: str) -> Callable[[argparse.Namespace], Any]:
    """``"_commands:health"`` → the function, its module imported only now: a command
    loads what it uses (``status`` never imports trio or the daemon)."""
    module, _, function = name.partition(":")
    run: Callable[[argparse.Namespace], Any] = getattr(
        importlib.import_module(f"coven_trio.{module}"), function
    )
    return run


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

    run = add("run", "_terminal:run", "launch a session in this project and attach to it")
    run.add_argument("harness", help="claude, codex, command, or a manifest id")
    _launch_options(run)
    run.add_argument("--detach", action="store_true", help="print the id instead of attaching")
    run.add_argument("words", nargs=argparse.REMAINDER, help="the prompt (command: its argv)")
    attach = add("attach", "_terminal:attach", "a terminal session's screen, or a chat")
    attach.add_argument("session")
    add("doctor", "_terminal:doctor", "check the home, the daemon and the agent CLIs")
    daemon = add("daemon", "_terminal:daemon", "the daemon in the background")
    daemon.add_argument("action", choices=["start", "stop", "status", "restart", "install"])
    completion = add("completion", "_terminal:completion", "shell completion script")
    completion.add_argument("shell", choices=["bash", "zsh", "fish"])
    add("health", "_commands:health", "the daemon's health handshake")
    add(
        "status", "_commands:status", "is a daemon running on the home? (running/stale/unreachable)"
    )
    sessions = add("sessions", "_terminal:sessions", "the sessions, newest first")
    sessions.add_argument("--live", action="store_true", help="only running and idle ones")
    sessions.add_argument("--status", help="only these statuses (comma-separated)")
    sessions.add_argument("--project", help="only sessions of this project folder")
    about = sessions.add_subparsers(dest="about")
    show = about.add_parser("show", parents=[nested], help="a session's record and last events")
    show.set_defaults(run="_terminal:show")
    show.add_argument("session")
    show.add_argument("--last", type=int, default=20, help="how many events (default 20)")
    log_ = about.add_parser("log", parents=[nested], help="a session's transcript")
    log_.set_defaults(run="_terminal:log")
    log_.add_argument("session")
    log_.add_argument("--svg", help="save the transcript, as the chat shows it, as an SVG")
    prune = about.add_parser("prune", parents=[nested], help="forget old ended sessions now")
    prune.set_defaults(run="_commands:prune")
    prune.add_argument("--older-than", type=float, metavar="DAYS", help="default: the daemon's")
    prune.add_argument("--max-bytes", type=int, help="default: the daemon's")
    archive = about.add_parser(
        "archive", parents=[nested], help="write a session (record and journal) to a file"
    )
    archive.set_defaults(run="_commands:archive")
    archive.add_argument("session")
    archive.add_argument("-o", "--output", help="file (default: <session id>.ndjson)")
    launch = add("launch", "_commands:launch", "launch a session; prints its id")
    launch.add_argument("--harness", required=True, help="claude, codex, command, or a manifest id")
    _launch_options(launch)
    launch.add_argument(
        "words", nargs=argparse.REMAINDER, help="the prompt (for `command`: the argv after --)"
    )
    tail = add("tail", "_commands:tail", "follow a session's journal (replay, then live)")
    tail.add_argument("session")
    tail.add_argument("--from", dest="start", type=int, default=0, help="first index (default 0)")
    send = add("input", "_commands:input_", "send input (the next message, or raw bytes)")
    send.add_argument("session")
    send.add_argument("data")
    kill = add("kill", "_commands:kill", "stop a session")
    kill.add_argument("session")


def _launch_options(parser: argparse.ArgumentParser, *, defaults: bool = True) -> None:
    """The API's launch options, as flags."""
    root = parser.add_argument(
        "--project-root", type=os.path.abspath, help="project folder (default: .)"
    )
    if defaults:
        root.default = "."
    parser.add_argument("--cwd", help="working folder inside the project root")
    parser.add_argument("--mode", choices=list(LaunchMode))
    parser.add_argument("--model")
    parser.add_argument("--title")
    parser.add_argument(
        "--permission-mode",
        choices=["default", "acceptEdits", "plan", "bypassPermissions", "ask"],
        help="claude: ask = tool approvals come to you",
    )
    parser.add_argument("--sandbox", choices=["read-only", "workspace-write", "danger-full-access"])
    parser.add_argument("--approval", choices=["untrusted", "on-failure", "on-request", "never"])


def _options_after_the_harness(args: argparse.Namespace) -> None:
    """``run claude --mode stream "fix it"``: options after the harness name are options
    (argparse would take them as prompt words); after ``--``, everything is a word."""
    words = list(args.words)
    cut = words.index("--") if "--" in words else len(words)
    late = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    _launch_options(late, defaults=False)
    late.add_argument("--detach", action="store_true")
    late.add_argument("--json", action="store_true")
    _, rest = late.parse_known_args(words[:cut], namespace=args)
    args.words = rest + words[cut:]


async def _watch_signals(daemon: Daemon, signals: AsyncIterator[int]) -> None:
    """First SIGINT/SIGTERM: graceful shutdown. Second: stop now."""
    count = 0
    async for signum in signals:
        count += 1
        if count == 1:
            _log().info("received %s; shutting down gracefully", signal.Signals(signum).name)
            daemon.shutdown()
        else:
            _log().warning("received %s again; stopping now", signal.Signals(signum).name)
            daemon.force_stop()


async def _serve_until_signalled(config: Config) -> None:
    import trio

    from .daemon import serve

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
    parser = _parser()
    if "_ARGCOMPLETE" in os.environ:  # a shell asking for completions
        import argcomplete

        argcomplete.autocomplete(parser)
    args = parser.parse_args(argv)
    if args.command == "completion":
        done: int = _command("_terminal:completion")(args)
        return done
    if args.command == "run":
        _options_after_the_harness(args)
    if args.command != "serve":
        args.home = args.home or default_home()
        from . import _commands

        return _commands.run(_command(args.run), args)
    import trio

    from ._log import configure
    from .config import Config
    from .errors import StartupError

    configure(args.log_level, args.log_format)
    try:
        config = Config(
            home=args.home or default_home(),
            eve_mount=args.eve_mount,
            store=args.store,
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
