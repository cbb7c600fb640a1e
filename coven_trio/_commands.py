"""The client commands of the ``coven-trio`` CLI: each prints for a person, or JSON with
``--json``. One-shot commands are plain functions over :mod:`coven_trio._wire` (no trio
to import: they answer in tens of milliseconds); streaming ones are coroutines over
:class:`~coven_trio.client.Client`, run by :func:`run` in ``trio.run``.

Exit codes (also in the README): 0 success; 1 the daemon refused the request (its
error envelope is printed); 2 usage error; 3 the daemon is not reachable; ``status``
also uses 4 for a stale socket (a file with no daemon behind it).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import _wire
from ._defaults import SOCKET_NAME
from ._wire import ClientError, DaemonUnreachable
from .render import terminal_text
from .vocabulary import EntryType

if TYPE_CHECKING:
    from .client import Client

EXIT_OK, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_STALE = 0, 1, 3, 4


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def _client(args: argparse.Namespace) -> Client:
    from .client import Client

    return Client(Path(args.home) / SOCKET_NAME, eve_mount=args.eve_mount)


def call(args: argparse.Namespace, method: str, target: str, body: Any = None) -> Any:
    """One blocking request to the daemon of ``args.home``."""
    return _wire.request(Path(args.home) / SOCKET_NAME, method, target, body)


def session_path(session_id: str, tail: str = "") -> str:
    return f"/api/v1/sessions/{quote(session_id, safe='')}{tail}"


def health(args: argparse.Namespace) -> int:
    body = call(args, "GET", "/api/v1/health")
    if args.json:
        _print_json(body)
    else:
        daemon = body["daemon"]
        print(f"coven-trio {body['covenVersion']} (pid {daemon['pid']}) on {daemon['socket']}")
        harnesses = ", ".join(body["capabilities"]["harnesses"])
        print(f"  up {daemon['uptime']:.0f}s; harnesses: {harnesses}")
    return EXIT_OK


def status(args: argparse.Namespace) -> int:
    path = Path(args.home) / SOCKET_NAME
    try:
        body = _wire.request(path, "GET", "/api/v1/health", timeout=5)
    except DaemonUnreachable:
        state, pid, code = ("stale" if path.exists() else "unreachable"), None, None
    else:
        state, pid, code = "running", body["daemon"]["pid"], EXIT_OK
    if code is None:
        code = EXIT_STALE if state == "stale" else EXIT_UNREACHABLE
    if args.json:
        _print_json({"state": state, "pid": pid, "socket": str(path)})
    else:
        detail = {
            "running": f"pid {pid}",
            "stale": "socket file present, no daemon answers (the next `serve` replaces it)",
            "unreachable": "no daemon (start one with `coven-trio serve`)",
        }[state]
        print(f"{state}: {path} ({detail})")
    return code


def sessions(args: argparse.Namespace) -> int:
    records = call(args, "GET", "/api/v1/sessions")
    if args.json:
        _print_json(records)
        return EXIT_OK
    for r in records:
        title = r["title"] if len(r["title"]) <= 40 else r["title"][:39] + "…"
        print(f"{r['id']}  {r['status']:9}  {r['harness']:8}  {r['launch_mode']:14}  {title}")
    return EXIT_OK


def launch(args: argparse.Namespace) -> int:
    words = list(args.words)
    if words[:1] == ["--"]:
        words = words[1:]
    command = words if args.harness == "command" else None
    prompt = None if command is not None else " ".join(words)
    body = {
        "projectRoot": args.project_root,
        "harness": args.harness,
        "prompt": prompt,
        "cwd": args.cwd,
        "launchMode": args.mode,
        "model": args.model,
        "title": args.title,
        "command": command,
        "permissionMode": args.permission_mode,
        "sandbox": args.sandbox,
        "approval": args.approval,
    }
    record = call(args, "POST", "/api/v1/sessions", {k: v for k, v in body.items() if v})
    if args.json:
        _print_json(record)
    else:
        print(record["id"])
    return EXIT_OK


def input_(args: argparse.Namespace) -> int:
    result = call(args, "POST", session_path(args.session, "/input"), {"data": args.data})
    if args.json:
        _print_json(result)
    return EXIT_OK


def kill(args: argparse.Namespace) -> int:
    result = call(args, "POST", session_path(args.session, "/kill"))
    if args.json:
        _print_json(result)
    return EXIT_OK


def prune(args: argparse.Namespace) -> int:
    """``sessions prune``: the daemon forgets old ended sessions from its store now."""
    action_args = {"olderThanDays": args.older_than, "maxBytes": args.max_bytes}
    given = {k: v for k, v in action_args.items() if v is not None}
    result = call(args, "POST", "/api/v1/actions", {"action": "coven.store.prune", "args": given})
    pruned = result["event"]["payload"]
    if args.json:
        _print_json(pruned)
    else:
        print(f"pruned {pruned['sessions']} sessions ({pruned['bytes']:,} bytes of journal)")
    return EXIT_OK


async def archive(args: argparse.Namespace) -> int:
    """``sessions archive ID``: its record, then every journal entry (EventRecords), as
    NDJSON in a file of its own; kept however the store is pruned later."""
    client = _client(args)
    record = await client.session(args.session)
    path = Path(args.output or f"{args.session}.ndjson")
    count = 0
    with path.open("w") as out:  # noqa: ASYNC230 - a local file, written as pages arrive
        out.write(json.dumps({"type": "coven-trio.archive", "record": record}) + "\n")
        while True:
            page = await client.events(args.session, after_seq=count, limit=1000)
            for event in page["events"]:
                out.write(json.dumps(event) + "\n")
            count += len(page["events"])
            if not page["hasMore"]:
                break
    if args.json:
        _print_json({"path": str(path), "events": count})
    else:
        print(f"{path}: {count} events")
    return EXIT_OK


def render(entry: dict[str, Any]) -> str | None:
    """One journal entry for a person; None for entries not worth a line."""
    try:
        kind = EntryType(entry["type"])
    except ValueError:
        return None  # a newer daemon's entry type
    data = entry.get("data") or {}
    match kind:
        case EntryType.AGENT_CONTENT_DELTA:
            return str(data.get("text", ""))
        case EntryType.OUTPUT if not data.get("rendered"):  # (a copy of the entries)
            return str(data.get("data", ""))
        case EntryType.MESSAGE_RECEIVED:
            return f"\n> {data.get('message', '')}\n"
        case EntryType.ACTIONS_REQUESTED | EntryType.ACTION_RESULT:
            return terminal_text(kind, data)
        case EntryType.INPUT_REQUESTED:
            prompts = "; ".join(r.get("prompt", "") for r in data.get("requests", []))
            return f"\n[input requested: {prompts}]\n"
        case EntryType.STDERR:
            return f"[stderr] {data.get('text', '')}\n"
        case EntryType.SESSION_WAITING:
            return "\n[waiting for input]\n"
        case EntryType.EXIT:
            signal = f" {data['signal']}" if "signal" in data else ""
            return f"\n[exit {data.get('exitCode')}{signal}]\n"
        case EntryType.SESSION_COMPLETED:
            return "[session completed]\n"
        case EntryType.SESSION_FAILED:
            return f"[session failed: {data.get('code')}: {data.get('message')}]\n"
        case EntryType.TURN_FAILED | EntryType.OUTPUT_TRUNCATED | EntryType.KILL:
            return f"\n[{kind}: {json.dumps(data)}]\n"
    return None  # message.appended: the deltas (or output) already showed it


async def tail(args: argparse.Namespace) -> int:
    async for entry in _client(args).tail(args.session, args.start):
        if args.json:
            sys.stdout.write(json.dumps(entry, separators=(",", ":")) + "\n")
        elif (text := render(entry)) is not None:
            sys.stdout.write(text)
        sys.stdout.flush()
    return EXIT_OK


def run(command: Any, args: argparse.Namespace) -> int:
    """Run one client command; print errors for a person (or as JSON) and map them to
    exit codes."""
    try:
        done = command(args)
        if not isinstance(done, types.CoroutineType):
            return int(done)
        done.close()  # an async command runs on trio, which is imported only for it
        import trio

        code: int = trio.run(command, args)
        return code
    except DaemonUnreachable as exc:
        _report(args, {"code": exc.code, "message": exc.message})
        return EXIT_UNREACHABLE
    except ClientError as exc:
        error: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.details is not None:
            error["details"] = exc.details
        _report(args, error)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `coven-trio tail … | head`: the reader left; that is not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            return EXIT_OK
        raise


def _report(args: argparse.Namespace, error: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps({"error": error}))
    else:
        print(f"coven-trio: {error['code']}: {error['message']}", file=sys.stderr)
