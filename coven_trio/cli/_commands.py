"""The client commands of the ``coven-trio`` CLI for programs: each prints for a person,
or JSON with ``--json``. One-shot commands are plain functions over the blocking wire
path (``client._wire``: no trio to import, they answer in tens of milliseconds);
streaming ones are coroutines over :class:`~coven_trio.client.Client`, run on trio by
:func:`coven_trio.cli.run`.

Exit codes (also in the README): 0 success; 1 the daemon refused the request (its
error envelope is printed); 2 usage error; 3 the daemon is not reachable; ``status``
also uses 4 for a stale socket (a file with no daemon behind it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._defaults import SOCKET_NAME
from .._flags import launch_body
from ..client import _targets as to
from ..client import _wire
from ..client._wire import DaemonUnreachable
from ._render import Transcript

if TYPE_CHECKING:
    from ..client import Client

EXIT_OK, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_STALE = 0, 1, 3, 4


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def _client(args: argparse.Namespace) -> Client:
    from ..client import Client

    return Client(Path(args.home) / SOCKET_NAME, eve_mount=args.eve_mount)


def call(args: argparse.Namespace, method: str, target: str, body: Any = None) -> Any:
    """One blocking request to the daemon of ``args.home``."""
    return _wire.request(Path(args.home) / SOCKET_NAME, method, target, body)


def health(args: argparse.Namespace) -> int:
    body = call(args, "GET", to.HEALTH)
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
        body = _wire.request(path, "GET", to.HEALTH, timeout=5)
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
    records = call(args, "GET", to.SESSIONS)
    if args.json:
        _print_json(records)
        return EXIT_OK
    for r in records:
        title = r["title"] if len(r["title"]) <= 40 else r["title"][:39] + "…"
        print(f"{r['id']}  {r['status']:9}  {r['harness']:8}  {r['launch_mode']:14}  {title}")
    return EXIT_OK


def launch(args: argparse.Namespace) -> int:
    record = call(args, "POST", to.SESSIONS, launch_body(args))
    if args.json:
        _print_json(record)
    else:
        print(record["id"])
    return EXIT_OK


def input_(args: argparse.Namespace) -> int:
    result = call(args, "POST", to.session(args.session, "/input"), {"data": args.data})
    if args.json:
        _print_json(result)
    return EXIT_OK


def kill(args: argparse.Namespace) -> int:
    result = call(args, "POST", to.session(args.session, "/kill"))
    if args.json:
        _print_json(result)
    return EXIT_OK


def prune(args: argparse.Namespace) -> int:
    """``sessions prune``: the daemon forgets old ended sessions from its store now."""
    action_args = {"olderThanDays": args.older_than, "maxBytes": args.max_bytes}
    given = {k: v for k, v in action_args.items() if v is not None}
    result = call(args, "POST", to.ACTIONS, {"action": "coven.store.prune", "args": given})
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


async def tail(args: argparse.Namespace) -> int:
    transcript = Transcript()
    async for entry in _client(args).tail(args.session, args.start):
        if args.json:
            sys.stdout.write(json.dumps(entry, separators=(",", ":")) + "\n")
        elif (text := transcript.text(entry)) is not None:
            sys.stdout.write(text)
        sys.stdout.flush()
    return EXIT_OK
