"""The ``coven-trio`` command tree (argparse), and which function runs each command.

A command's module is imported only when it runs, by the small functions below: the
one-shot commands (``_commands``) never load trio, rich or the daemon; a person's
commands (``_people``) load what they draw with.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._defaults import DEFAULT_EVE_MOUNT, SOCKET_NAME
from .._flags import launch_options, options_among_the_words, serve_options
from .._version import __version__
from . import _commands

#: A command: the parsed arguments in, an exit code (or a coroutine giving one) out.
Command = Callable[[argparse.Namespace], Any]
#: Adds a command: its name, what runs it, its help; gives its parser.
Add = Callable[[str, Command, str], argparse.ArgumentParser]
#: Adds commands from outside the package: ``add``, and the ``--home``/``--json`` parent
#: for subcommands.
More = Callable[[Add, argparse.ArgumentParser], None]


def _people_run(args: argparse.Namespace) -> Any:
    from . import _people

    return _people.run(args)


def _people_attach(args: argparse.Namespace) -> Any:
    from . import _people

    return _people.attach(args)


def _people_doctor(args: argparse.Namespace) -> Any:
    from . import _people

    return _people.doctor(args)


def _people_daemon(args: argparse.Namespace) -> Any:
    from . import _people

    return _people.daemon(args)


def _people_completion(args: argparse.Namespace) -> Any:
    from . import _people

    return _people.completion(args)


def _people_sessions(args: argparse.Namespace) -> Any:
    from . import _people

    return _people.sessions(args)


def _people_show(args: argparse.Namespace) -> Any:
    from . import _people

    return _people.show(args)


def _people_log(args: argparse.Namespace) -> Any:
    from . import _people

    return _people.log(args)


def _inbox(name: str) -> Command:
    def run(args: argparse.Namespace) -> Any:
        from . import _inbox as inbox

        return getattr(inbox, name)(args)

    return run


def parser(more: More | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coven-trio", description="Run coding-agent CLIs as supervised sessions."
    )
    parser.add_argument("--version", action="version", version=f"coven-trio {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_options(commands.add_parser("serve", help="run the daemon in the foreground"))
    _client_commands(commands, more)
    return parser


def _client_commands(commands: Any, more: More | None) -> None:
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

    def add(name: str, run: Command, help_: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = commands.add_parser(name, parents=[common], help=help_)
        sub.set_defaults(run=run)
        return sub

    run = add("run", _people_run, "launch a session in this project and attach to it")
    run.add_argument("harness", help="claude, codex, command, or a manifest id")
    launch_options(run)
    run.add_argument("--detach", action="store_true", help="print the id instead of attaching")
    run.add_argument("words", nargs=argparse.REMAINDER, help="the prompt (command: its argv)")
    attach = add("attach", _people_attach, "a terminal session's screen, or a chat")
    attach.add_argument("session")
    add("doctor", _people_doctor, "check the home, the daemon and the agent CLIs")
    daemon = add("daemon", _people_daemon, "the daemon in the background")
    daemon.add_argument("action", choices=["start", "stop", "status", "restart", "install"])
    completion = add("completion", _people_completion, "shell completion script")
    completion.add_argument("shell", choices=["bash", "zsh", "fish"])
    add("health", _commands.health, "the daemon's health handshake")
    add("status", _commands.status, "is a daemon running on the home? (running/stale/unreachable)")
    sessions = add("sessions", _people_sessions, "the sessions, newest first")
    sessions.add_argument("--live", action="store_true", help="only running and idle ones")
    sessions.add_argument("--status", help="only these statuses (comma-separated)")
    sessions.add_argument("--project", help="only sessions of this project folder")
    about = sessions.add_subparsers(dest="about")
    show = about.add_parser("show", parents=[nested], help="a session's record and last events")
    show.set_defaults(run=_people_show)
    show.add_argument("session")
    show.add_argument("--last", type=int, default=20, help="how many events (default 20)")
    log_ = about.add_parser("log", parents=[nested], help="a session's transcript")
    log_.set_defaults(run=_people_log)
    log_.add_argument("session")
    log_.add_argument("--svg", help="save the transcript, as the chat shows it, as an SVG")
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
    launch_options(launch)
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
    _inbox_commands(add, nested)
    _worktree_commands(add)
    _web_commands(add, nested)
    if more is not None:
        more(add, nested)


def _worktree(name: str) -> Command:
    def run(args: argparse.Namespace) -> Any:
        from . import _worktrees as worktrees

        return getattr(worktrees, name)(args)

    return run


def _worktree_commands(add: Add) -> None:
    diff = add("diff", _worktree("diff"), "what a worktree session changed (a pager on a terminal)")
    diff.add_argument("session")
    diff.add_argument("--stat", action="store_true", help="the files and counts only")
    merge = add("merge", _worktree("merge"), "a worktree session's work into the project")
    merge.add_argument("session")
    merge.add_argument("--rebase", action="store_true", help="replay its commits, no merge commit")
    discard = add("discard", _worktree("discard"), "remove a session's worktree and branch")
    discard.add_argument("session")
    discard.add_argument("--force", action="store_true", help="even with work not merged")
    discard.add_argument("--kill", action="store_true", help="stop the session first if live")


def _inbox_commands(add: Add, nested: Any) -> None:
    inbox = add("inbox", _inbox("inbox"), "what waits for you: approvals and questions")
    about = inbox.add_subparsers(dest="about")
    answer = about.add_parser(
        "answer", parents=[nested], help="answer item N (no N: go through them all)"
    )
    answer.set_defaults(run=_inbox("answer"))
    answer.add_argument("number", type=int, nargs="?", help="the item's number in the list")
    answer.add_argument("answer", nargs="*", help="yes, no, an option (name or number), text")
    open_ = about.add_parser("open", parents=[nested], help="the chat of item N's session")
    open_.set_defaults(run=_inbox("open_"))
    open_.add_argument("number", type=int)
    told = add("notifications", _inbox("notifications"), "what needed you, finished, failed")
    told.add_argument("--follow", "-f", action="store_true", help="then each as it comes")
    told.add_argument("--after", type=int, default=0, help="only those after this seq")


def _web_commands(add: Add, nested: Any) -> None:
    web = add("web", _web, "the web dashboard: start its listener, print and open its URL")
    web.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    web.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    web.add_argument("--tls", action=argparse.BooleanOptionalAction, default=None)
    web.add_argument("--observe-only", action="store_true", help="nobody may act, only watch")
    web.add_argument("--name", action="append", default=[], help="another Host name it answers")
    web.add_argument("--no-open", action="store_true", help="print the URL, open no browser")
    about = web.add_subparsers(dest="about")
    stop = about.add_parser("stop", parents=[nested], help="stop the web listener")
    stop.set_defaults(run=_web_stop)
    pair = about.add_parser("pair", parents=[nested], help="pair a device (a one-time code)")
    pair.set_defaults(run=_web_pair)
    pair.add_argument("--observe-only", action="store_true")
    pair.add_argument("--device-name", dest="device", help="what to call the device")
    pair.add_argument("--seconds", type=int, help="how long the code is good for")
    devices = about.add_parser("devices", parents=[nested], help="paired devices")
    devices.set_defaults(run=_web_devices)
    revoke = about.add_parser("revoke", parents=[nested], help="revoke a paired device at once")
    revoke.set_defaults(run=_web_revoke)
    revoke.add_argument("device_id")


def _socket(args: argparse.Namespace) -> Path:
    return Path(args.home) / SOCKET_NAME


def _web(args: argparse.Namespace) -> int:
    from . import _web as web

    return web.web(
        _socket(args),
        host=args.host,
        port=args.port,
        tls=args.tls,
        observe_only=args.observe_only,
        names=args.name,
        open_browser=not args.no_open,
    )


def _web_stop(args: argparse.Namespace) -> int:
    from . import _web as web

    return web.web_stop(_socket(args))


def _web_pair(args: argparse.Namespace) -> int:
    from . import _web as web

    return web.web_pair(
        _socket(args), observe_only=args.observe_only, name=args.device, seconds=args.seconds
    )


def _web_devices(args: argparse.Namespace) -> int:
    from . import _web as web

    return web.web_devices(_socket(args), as_json=getattr(args, "json", False))


def _web_revoke(args: argparse.Namespace) -> int:
    from . import _web as web

    return web.web_revoke(_socket(args), args.device_id)


def options_after_the_harness(args: argparse.Namespace) -> None:
    """``run``'s flags among its words (:func:`coven_trio._flags.options_among_the_words`)."""
    options_among_the_words(args, lambda late: late.add_argument("--detach", action="store_true"))
