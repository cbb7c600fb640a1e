"""``coven-trio diff | merge | discard``: a worktree session's changes, brought into the
project or thrown away (docs/worktrees.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .._defaults import SOCKET_NAME
from ..client import _targets as to
from ..client import _wire
from ._commands import EXIT_OK, _print_json, call


def diff(args: argparse.Namespace) -> int:
    """The stat, then the patch (coloured, through a pager on a terminal); ``--stat``:
    the stat only; ``--json``: the stat as JSON."""
    found = call(args, "GET", to.session(args.session, "/diff"))
    if args.json:
        _print_json(found)
        return EXIT_OK
    stat = found["stat"]
    lines = [
        f" {f['path']} | {_counts(f)}" + (f" ({f['change']})" if f["change"] != "modified" else "")
        for f in stat["files"]
    ]
    lines.append(
        f" {stat['filesChanged']} files changed, {stat['insertions']} insertions(+), "
        f"{stat['deletions']} deletions(-)"
    )
    summary = "\n".join(lines) + "\n"
    if args.stat:
        sys.stdout.write(summary)
        return EXIT_OK
    target = to.session(args.session, "/diff") + "?format=patch"
    patch = _wire.text(Path(args.home) / SOCKET_NAME, target)
    if not sys.stdout.isatty():
        sys.stdout.write(summary + "\n" + patch)
        return EXIT_OK
    from rich.console import Console
    from rich.syntax import Syntax

    console = Console(highlight=False)
    with console.pager(styles=True):
        console.print(summary, markup=False)
        console.print(Syntax(patch, "diff", theme="ansi_dark", background_color="default"))
    return EXIT_OK


def _counts(change: dict[str, Any]) -> str:
    if change.get("binary"):
        return "Bin"
    return f"+{change.get('insertions') or 0} -{change.get('deletions') or 0}"


def merge(args: argparse.Namespace) -> int:
    body = {"strategy": "rebase" if args.rebase else "merge"}
    result = call(args, "POST", to.session(args.session, "/merge"), body)
    if args.json:
        _print_json(result)
    elif not result["merged"]:
        print("nothing to merge: the base branch has all of it")
    else:
        commit, files = result["commit"][:12], len(result["files"])
        print(f"merged into the project ({result['strategy']}): {commit}, {files} files")
        print(f"the worktree stays; remove it with: coven-trio discard {args.session}")
    return EXIT_OK


def discard(args: argparse.Namespace) -> int:
    body = {"force": args.force, "kill": args.kill}
    result = call(args, "POST", to.session(args.session, "/discard"), body)
    if args.json:
        _print_json(result)
    else:
        tip = result.get("deletedBranch")
        branch = result["worktree"]["branch"]
        print(f"discarded {result['worktree']['path']}")
        if tip:
            print(f"branch {branch} was at {tip[:12]} (recover it: git branch {branch} {tip})")
    return EXIT_OK
