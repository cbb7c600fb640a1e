"""``coven-trio inbox``: what waits for you across every live session (tool approvals,
the agents' questions), oldest first; answer one by number, walk through them, or open
the session. And ``coven-trio notifications``: what happened, as it happens."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ..client import ClientError
from ..client import _targets as to
from ._commands import EXIT_OK, EXIT_REFUSED, _client, _print_json, call


def _items(args: argparse.Namespace) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = call(args, "GET", to.INBOX)["items"]
    return items


def _waited(seconds: float) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _what(item: dict[str, Any]) -> str:
    if item.get("tool"):
        return f"{item['tool']}: {item.get('detail') or ''}".rstrip(": ")
    return str(item.get("prompt", ""))


def inbox(args: argparse.Namespace) -> int:
    """The list: number, how long it waited, session, project, what it asks."""
    items = _items(args)
    if args.json:
        _print_json({"items": items})
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if not items:
        console.print("nothing waits for you")
        return EXIT_OK
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("#", "waiting", "session", "project", "asks"):
        table.add_column(column, no_wrap=column != "asks", overflow="fold")
    for item in items:
        table.add_row(
            str(item["number"]),
            _waited(item["waitingSeconds"]),
            item["sessionId"],
            os.path.basename(item["project"].rstrip("/")) or item["project"],
            _what(item),
            end_section=False,
        )
    console.print(table)
    console.print("answer: coven-trio inbox answer N yes|no|<text>   open: coven-trio inbox open N")
    return EXIT_OK


def _pick(items: list[dict[str, Any]], number: int) -> dict[str, Any] | None:
    found = [item for item in items if item["number"] == number]
    if not found:
        count = len(items)
        print(f"coven-trio: no item {number} (the inbox has {count})", file=sys.stderr)
        return None
    return found[0]


def _respond(args: argparse.Namespace, item: dict[str, Any], answer: str) -> dict[str, Any]:
    target = to.session(item["sessionId"], "/respond")
    result: dict[str, Any] = call(
        args, "POST", target, {"requestId": item["requestId"], "optionId": answer}
    )
    return result


def _option(item: dict[str, Any], reply: str) -> str:
    """A reply as the person typed it: an option's number becomes its id."""
    options = item.get("options") or []
    if reply.isdigit() and 1 <= int(reply) <= len(options):
        picked = options[int(reply) - 1]
        return str(picked.get("id") or picked.get("label"))
    return reply


def answer(args: argparse.Namespace) -> int:
    """``inbox answer N ANSWER`` answers item N; ``inbox answer`` asks about each."""
    items = _items(args)
    if args.number is None:
        return _walk(args, items)
    item = _pick(items, args.number)
    if item is None:
        return EXIT_REFUSED
    if not args.answer:
        print("coven-trio: say the answer (yes, no, an option, or text)", file=sys.stderr)
        return EXIT_REFUSED
    reply = _option(item, " ".join(args.answer))
    result = _respond(args, item, reply)
    if args.json:
        _print_json(result)
    else:
        print(f"answered {item['number']} ({_what(item)}) in {item['sessionId']}: {reply}")
    return EXIT_OK


def _walk(args: argparse.Namespace, items: list[dict[str, Any]]) -> int:
    """Each item in turn: its question and options; Enter skips, Ctrl-D stops."""
    if not items:
        print("nothing waits for you")
    for item in items:
        print(f"\n{item['number']}. {item['sessionId']} ({item['project']})")
        print(f"   {item['prompt']}" + (f"\n   {_what(item)}" if item.get("tool") else ""))
        for number, option in enumerate(item.get("options") or [], 1):
            print(f"   {number}. {option.get('label') or option.get('id')}")
        try:
            reply = input("answer (Enter: skip) > ").strip()
        except EOFError:
            print()
            break
        if reply:
            try:
                _respond(args, item, _option(item, reply))
            except ClientError as exc:  # answered elsewhere meanwhile, or the session ended
                print(f"   ({exc})")
                continue
            print("   answered")
    return EXIT_OK


async def open_(args: argparse.Namespace) -> int:
    """``inbox open N``: the chat of item N's session (answer it there)."""
    from ._people import attach_session

    item = _pick(_items(args), args.number)
    if item is None:
        return EXIT_REFUSED
    return await attach_session(_client(args), item["sessionId"])


async def notifications(args: argparse.Namespace) -> int:
    """The recent notifications; ``--follow``: then each as it comes (until Ctrl-C)."""
    client = _client(args)
    if not args.follow:
        recent = await client.notifications(args.after)
        if args.json:
            _print_json(recent)
        for notification in [] if args.json else recent["notifications"]:
            print(_line(notification))
        return EXIT_OK
    async for notification in client.follow_notifications(args.after):
        text = json.dumps(notification) if args.json else _line(notification)
        print(text, flush=True)
    return EXIT_OK


def _line(n: dict[str, Any]) -> str:
    return f"{n['at']}  {n['kind']:9}  {n['sessionId']}  {n['title']}: {n['summary']}"
