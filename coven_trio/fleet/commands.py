"""``coven-trio fleet …``: every host's sessions, any host's journal, a launch on a chosen
host — read from JetStream, never from the other daemons' sockets.

* ``fleet sessions [--host H]``: the records every host put in the KV bucket;
* ``fleet tail HOST SESSION [--from N] [--no-follow] [--eve]``: a journal from the
  stream, as the coven view (EventRecord NDJSON: byte for byte what that host's
  ``/api/v1/events?sessionId=…&follow=1`` sends) or as eve lines; it follows the session
  until its journal ends unless ``--no-follow``;
* ``fleet launch HOST HARNESS [prompt…]``: the socket API's launch body, answered by
  HOST's daemon with the socket API's record or error.

Each is a coroutine taking the parsed arguments and returning the exit code (the CLI
runs it in ``trio.run``); the settings come from ``<home>/fleet.toml`` or
``--fleet-config``. Exit codes as the other client commands: 0 ok; 1 refused (the host
answered an error, or NATS refused the credentials); 2 a bad fleet file; 3 NATS or the
host unreachable. Only argparse is imported until a command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from .._flags import launch_body, launch_options, options_among_the_words

if TYPE_CHECKING:
    from ._config import FleetSettings
    from ._link import FleetLink

EXIT_OK, EXIT_REFUSED, EXIT_CONFIG, EXIT_UNREACHABLE = 0, 1, 2, 3
#: Without ``--follow``, a tail that hears nothing for this long has read everything.
QUIET = 2.0
#: Messages taken per hop from the tail's consumer.
BATCH = 512
_ENDS = ("session.completed", "session.failed")


class _Stop(Exception):
    def __init__(self, code: int, error: str, message: str) -> None:
        super().__init__(message)
        self.code, self.error, self.message = code, error, message


def add_fleet_commands(fleet: argparse.ArgumentParser, nested: argparse.ArgumentParser) -> None:
    """The subcommands of ``coven-trio fleet`` (``nested``: the CLI's ``--home``/``--json``
    for subcommands); each sets ``run`` to its coroutine function (the CLI runs a coroutine
    in ``trio.run``)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--fleet-config", type=Path, help="the fleet file (default: <home>/fleet.toml)"
    )
    sub = fleet.add_subparsers(dest="fleet_command", required=True)
    listing = sub.add_parser(
        "sessions", parents=[nested, common], help="every host's sessions, newest first"
    )
    listing.set_defaults(run=sessions)
    listing.add_argument("--host", help="only this host's")
    reading = sub.add_parser("tail", parents=[nested, common], help="a session's journal, any host")
    reading.set_defaults(run=tail)
    reading.add_argument("host")
    reading.add_argument("session")
    reading.add_argument(
        "--from",
        dest="start",
        type=int,
        default=0,
        metavar="N",
        help="from entry N (as afterSeq=N)",
    )
    reading.add_argument("--no-follow", action="store_true", help="stop at what is there now")
    reading.add_argument("--eve", action="store_true", help="eve lines instead of EventRecords")
    launching = sub.add_parser("launch", parents=[nested, common], help="launch a session on HOST")
    launching.set_defaults(run=launch)
    launching.add_argument("host")
    launching.add_argument("harness", help="claude, codex, command, or a manifest id")
    launch_options(launching)
    _timeout(launching)
    launching.set_defaults(timeout=30.0)
    launching.add_argument("words", nargs=argparse.REMAINDER, help="the prompt (command: its argv)")


def _timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, help="seconds (default 30)")


def _settings(args: argparse.Namespace) -> FleetSettings:
    from ._config import FLEET_FILE, FleetConfigError, load_settings, parse_settings

    explicit = getattr(args, "fleet_config", None)
    try:
        if explicit is not None:
            path = Path(explicit)
            return parse_settings(path.read_text(), source=str(path), base=path.parent)
        settings = load_settings(Path(args.home))
    except (FleetConfigError, OSError) as exc:
        raise _Stop(EXIT_CONFIG, "fleet_config", str(exc)) from None
    if settings is None:
        where = Path(args.home) / FLEET_FILE
        raise _Stop(EXIT_CONFIG, "fleet_config", f"no fleet configured: {where} does not exist")
    return settings


@asynccontextmanager
async def _connected(settings: FleetSettings) -> AsyncIterator[FleetLink]:
    from ._link import open_link
    from ._nats import FleetUnavailable

    try:
        async with open_link(settings, name="coven-trio fleet", forever=False) as link:
            yield link
    except FleetUnavailable as exc:
        if "authorization" in str(exc).lower():
            raise _Stop(EXIT_REFUSED, "fleet_refused", f"NATS refused: {exc}") from None
        raise _Stop(EXIT_UNREACHABLE, "fleet_unreachable", f"cannot reach NATS: {exc}") from None


def _report(args: argparse.Namespace, stop: _Stop) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"error": {"code": stop.error, "message": stop.message}}))
    else:
        print(f"coven-trio: {stop.error}: {stop.message}", file=sys.stderr)
    return stop.code


async def sessions(args: argparse.Namespace, *, out: BinaryIO | None = None) -> int:
    """``fleet sessions``: a table, or ``--json`` (each record with its ``host``)."""
    from ._nats import decode_record

    try:
        async with _connected(_settings(args)) as link:
            raw = await link.records()
    except _Stop as stop:
        return _report(args, stop)
    records = [r for r in map(decode_record, raw) if r is not None]
    if getattr(args, "host", None):
        records = [r for r in records if r.get("host") == args.host]
    records.sort(key=lambda r: (str(r.get("created_at", "")), str(r.get("id", ""))), reverse=True)
    sink = out or sys.stdout.buffer
    if getattr(args, "json", False):
        sink.write(json.dumps(records, indent=2).encode() + b"\n")
    else:
        for r in records:
            title = str(r.get("title") or "")
            title = title if len(title) <= 40 else title[:39] + "…"
            line = (
                f"{r.get('host', '?'):12}  {r.get('id')}  {r.get('status', '?'):9}  "
                f"{r.get('harness', '?'):8}  {r.get('launch_mode') or '-':14}  {title}\n"
            )
            sink.write(line.encode())
    sink.flush()
    return EXIT_OK


async def tail(args: argparse.Namespace, *, out: BinaryIO | None = None) -> int:
    """``fleet tail HOST SESSION``: the journal from the stream, in index order."""
    try:
        async with _connected(_settings(args)) as link:
            await _tail(link, args, out or sys.stdout.buffer)
    except _Stop as stop:
        return _report(args, stop)
    return EXIT_OK


async def _tail(link: FleetLink, args: argparse.Namespace, sink: BinaryIO) -> None:
    from ..records import event_record
    from ._nats import decode_record
    from ._subjects import entries_subject, index_of, line_type, record_key

    settings, host, session_id = link.settings, args.host, args.session
    follow, eve, start = not args.no_follow, args.eve, max(0, args.start)
    subject = entries_subject(settings.prefix, host, session_id)
    raw = await link.record(record_key(host, session_id))
    record = decode_record(raw) if raw is not None else None
    if record is None and await link.last_of(subject) is None:
        raise _Stop(EXIT_REFUSED, "session_not_found", f"no session {session_id} on {host}")
    ended = record is not None and record.get("status") in (
        "completed",
        "failed",
        "killed",
        "orphaned",
    )
    final = int(record.get("event_count") or 0) if record is not None and ended else None
    sub = await link.open_tail(subject)
    index, held, done = start, {}, False
    try:
        while not done:
            if final is not None and index >= final:
                break
            batch = await link.next_messages(sub, BATCH, None if follow else QUIET)
            if not batch:  # quiet, without --follow: everything there was read
                break
            for data, message_id, pending in batch:
                at = index_of(message_id or "")
                if at is not None and at >= index:
                    held[at] = data
                if not follow and pending == 0:
                    done = True
            chunk = bytearray()
            while index in held:
                line = held.pop(index)
                chunk += line if eve else event_record(session_id, index, line) + b"\n"
                if line_type(line) in _ENDS:
                    done = True
                index += 1
            if chunk:
                sink.write(chunk)
                sink.flush()
        if held:  # entries past a hole the stream never filled: say so, then show them
            print(f"coven-trio: entries before {min(held)} are missing", file=sys.stderr)
            for at in sorted(held):
                sink.write(held[at] if eve else event_record(session_id, at, held[at]) + b"\n")
            sink.flush()
    finally:
        await link.unsubscribe(sub)


async def launch(args: argparse.Namespace, *, out: BinaryIO | None = None) -> int:
    """``fleet launch HOST HARNESS …``: prints the new session's id (``--json``: its
    record); the host's error envelope and exit 1 when it refuses."""
    from ._launch import launch_on

    options_among_the_words(args, _timeout)
    body = launch_body(args)
    sink = out or sys.stdout.buffer
    try:
        async with _connected(_settings(args)) as link:
            try:
                status, answer = await launch_on(link, args.host, body, args.timeout)
            except TimeoutError:
                raise _Stop(
                    EXIT_UNREACHABLE,
                    "fleet_timeout",
                    f"{args.host} did not answer within {args.timeout:g} s",
                ) from None
    except _Stop as stop:
        return _report(args, stop)
    if status == 0:
        return _report(
            args,
            _Stop(
                EXIT_UNREACHABLE, "fleet_no_host", f"no daemon serves launches for host {args.host}"
            ),
        )
    if status >= 400:
        error = answer.get("error", {}) if isinstance(answer, dict) else {}
        if getattr(args, "json", False):
            sink.write(json.dumps(answer).encode() + b"\n")
            sink.flush()
        else:
            print(f"coven-trio: {error.get('code')}: {error.get('message')}", file=sys.stderr)
        return EXIT_REFUSED
    text = json.dumps(answer, indent=2) if getattr(args, "json", False) else answer["id"]
    sink.write(text.encode() + b"\n")
    sink.flush()
    return EXIT_OK
