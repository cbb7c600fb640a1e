"""The commands for a person at a terminal: ``run``, ``attach``, the sessions table,
``sessions show``/``log``, ``doctor``, ``daemon …`` and shell completion. Every one
takes ``--json``; exit codes are the CLI's (:mod:`coven_trio.cli`)."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._defaults import MAX_SOCKET_PATH_BYTES, SOCKET_NAME
from .._flags import isolation
from ..client import ClientError
from ..client import _targets as to
from ._commands import EXIT_OK, EXIT_REFUSED, EXIT_UNREACHABLE, _client, _print_json, call
from ._render import Transcript

if TYPE_CHECKING:
    from ..client import Client

#: Launch modes that are a terminal (attach), not a chat.
_TERMINAL_MODES = ("interactive",)
_LIVE = ("running", "idle")


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


async def attach_session(client: Client, session_id: str, *, json_out: bool = False) -> int:
    """A terminal session gets the terminal; a turn-based one, the chat."""
    record = await client.session(session_id)
    if json_out:
        _print_json(record)
        return EXIT_OK
    terminal = record.get("launch_mode") in _TERMINAL_MODES or record.get("harness") == "command"
    if terminal:
        from ._attach import attach_terminal

        print(f"attached to {session_id} (detach: Ctrl-])", file=sys.stderr)
        outcome = await attach_terminal(client, session_id)
    else:
        from ._chat import Chat

        outcome = await Chat(client, session_id).run()
    how = "detached; the session goes on" if outcome == "detached" else "the session ended"
    print(f"\n[{how}: {session_id}]", file=sys.stderr)
    return EXIT_OK


async def attach(args: argparse.Namespace) -> int:
    return await attach_session(_client(args), args.session, json_out=args.json)


async def run(args: argparse.Namespace) -> int:
    """Launch in this project and attach (``--detach``: print the id). Without a mode: a
    prompt starts a chat (claude's stream, codex with follow-ups); no prompt, the CLI's
    own interface on a terminal."""
    words = [w for w in args.words if w != "--"] if args.harness != "command" else args.words
    command = [w for w in words if w != "--"] if args.harness == "command" else None
    prompt = None if command is not None else " ".join(words).strip() or None
    mode = args.mode
    if mode is None and command is None:
        mode = {"claude": "stream"}.get(args.harness, "nonInteractive") if prompt else "interactive"
    permission = args.permission_mode
    if permission is None and args.harness == "claude" and mode == "stream":
        # a person ran it: they are asked — in the chat, or (once they leave it) in the
        # inbox and a notification — from its first question on, never denied unasked
        permission = "ask"
    options = {
        "permissionMode": permission,
        "sandbox": args.sandbox,
        "approval": args.approval,
        "isolation": isolation(args),
    }
    client = _client(args)
    record = await client.launch(
        project_root=args.project_root,
        harness=args.harness,
        prompt=prompt,
        cwd=args.cwd,
        launch_mode=mode,
        model=args.model,
        title=args.title,
        command=command,
        follow_ups=mode == "nonInteractive",
        **{k: v for k, v in options.items() if v is not None},
    )
    if args.detach or args.json:
        _print_json(record) if args.json else print(record["id"])
        return EXIT_OK
    return await attach_session(client, record["id"])


def _age(created: str) -> str:
    try:
        then = datetime.datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return "?"
    seconds = (datetime.datetime.now(datetime.UTC) - then).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def sessions(args: argparse.Namespace) -> int:
    """The sessions, newest first, filtered (``--live``, ``--status``, ``--project``)."""
    records = call(args, "GET", to.SESSIONS)
    if args.live:
        records = [r for r in records if r["status"] in _LIVE]
    if args.status:
        records = [r for r in records if r["status"] in args.status.split(",")]
    if args.project:
        root = os.path.abspath(args.project)
        records = [r for r in records if r["project_root"] == root]
    if args.json:
        _print_json(records)
        return EXIT_OK
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    isolated = any(r.get("worktree") for r in records)  # then a column for the branch
    columns = ("id", "harness", "status", "age", *(("worktree",) if isolated else ()), "title")
    for column in columns:
        table.add_column(column, no_wrap=column != "title", overflow="ellipsis")
    style = {"running": "green", "idle": "cyan", "failed": "red", "killed": "yellow"}
    for r in records:
        status = f"[{style.get(r['status'], 'default')}]{r['status']}[/]"
        branch = ((r.get("worktree") or {}).get("branch") or "",) if isolated else ()
        table.add_row(r["id"], r["harness"], status, _age(r["created_at"]), *branch, r["title"])
    _console().print(table if records else "no sessions")
    return EXIT_OK


def _events(args: argparse.Namespace, session_id: str, after: int, limit: int) -> Any:
    return call(args, "GET", to.events(session_id, after_seq=after, limit=limit))


def show(args: argparse.Namespace) -> int:
    """A session's record and its last events."""
    record = call(args, "GET", to.session(args.session))
    count = int(record.get("event_count", 0))
    page = _events(args, args.session, max(0, count - args.last), max(1, args.last))
    if args.json:
        _print_json({"session": record, "events": page["events"]})
        return EXIT_OK
    console = _console()
    for key in ("id", "harness", "status", "exit_code", "launch_mode", "title", "project_root"):
        console.print(f"[bold]{key:13}[/bold] {record.get(key)}", markup=True)
    console.print()
    for event in page["events"]:
        payload = json.loads(event["payload_json"])
        console.print(f"{event['seq']:5} {event['kind']:22} {json.dumps(payload)[:100]}")
    return EXIT_OK


def log(args: argparse.Namespace) -> int:
    """The whole transcript as a person reads it (through a pager on a terminal)."""
    parts, after, transcript = [], 0, Transcript()
    while True:  # up to now (a live session's later entries: `coven-trio tail`)
        page = _events(args, args.session, after, 1000)
        for event in page["events"]:
            entry = {"type": event["kind"], "data": json.loads(event["payload_json"])}
            if args.json:
                parts.append(json.dumps(entry, separators=(",", ":")) + "\n")
            elif (text := transcript.text(entry)) is not None:
                parts.append(text)
        if not page["hasMore"] or not page["events"]:
            break
        after = page["nextCursor"]["afterSeq"]
    if args.svg:
        import trio

        return trio.run(_svg, _client(args), args.session, args.svg)
    text = "".join(parts)
    if not args.json and sys.stdout.isatty():
        console = _console()
        with console.pager(styles=False):
            console.out(text, highlight=False)
    else:
        sys.stdout.write(text)
    return EXIT_OK


async def _svg(client: Client, session_id: str, path: str) -> int:
    """The transcript as the chat shows it, saved as an SVG picture (for docs)."""
    from rich.console import Console

    from ._chat import Chat

    console = Console(record=True, width=88, file=open(os.devnull, "w"))  # noqa: SIM115, ASYNC230
    chat = Chat(client, session_id, console)
    page = await client.events(session_id, limit=1000)
    for event in page["events"]:
        if event["kind"] != "agent.content.delta":  # whole messages: no live redraws
            chat.show({"type": event["kind"], "data": json.loads(event["payload_json"])})
    console.save_svg(path, title=f"coven-trio attach {session_id}")
    print(path)
    return EXIT_OK


def doctor(args: argparse.Namespace) -> int:
    from . import _doctor

    home = Path(args.home)
    health = None
    if len(os.fsencode(home / SOCKET_NAME)) <= MAX_SOCKET_PATH_BYTES:
        try:
            health = call(args, "GET", to.HEALTH)
        except ClientError:
            health = None
    checks = _doctor.diagnose(home, health)
    blocking = any(not c.ok and c.blocking for c in checks)
    if args.json:
        _print_json({"ok": not blocking, "checks": [c.as_json() for c in checks]})
    else:
        console = _console()
        for check in checks:
            mark = "[green]✓[/green]" if check.ok else "[red]✗[/red]"
            console.print(f"{mark} [bold]{check.name}[/bold]: {check.detail}")
            if check.fix:
                console.print(f"    fix: {check.fix}", style="yellow", markup=False)
    return EXIT_REFUSED if blocking else EXIT_OK


async def daemon(args: argparse.Namespace) -> int:
    from . import _daemonctl

    home = Path(args.home)
    action = args.action
    result: dict[str, Any] = {"action": action, "home": str(home)}
    try:
        if action in ("stop", "restart"):
            result["stopped"] = await _daemonctl.stop(home)
        if action in ("start", "restart"):
            pid, started = await _daemonctl.start(home, [])
            result.update(pid=pid, started=started, log=str(home / _daemonctl.LOG_NAME))
    except RuntimeError as exc:
        print(f"coven-trio: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    if action == "status":
        running = await _daemonctl.running_pid(home)
        result.update(running=running is not None, pid=running)
    if action == "install":
        path, enable = _daemonctl.install(home)
        result.update(path=str(path), enable=enable)
    if args.json:
        _print_json(result)
    elif action == "status":
        print(f"running (pid {result['pid']})" if result["running"] else "not running")
    elif action == "install":
        print(f"wrote {result['path']}\nenable it with: {result['enable']}")
    else:
        if result.get("stopped") is not None:
            print(f"stopped (pid {result['stopped']})")
        elif action == "stop":
            print("not running")
        if "pid" in result:
            verb = "started" if result["started"] else "already running"
            print(f"{verb} (pid {result['pid']}); log: {result['log']}")
    if action == "status" and not result["running"]:
        return EXIT_UNREACHABLE
    return EXIT_OK


def completion(args: argparse.Namespace) -> int:
    """The shell's completion script (``eval "$(coven-trio completion bash)"``)."""
    from argcomplete.shell_integration import shellcode

    sys.stdout.write(shellcode(["coven-trio"], shell=args.shell))
    return EXIT_OK
