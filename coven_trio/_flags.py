"""Flags spelled once for the commands that share them: the launch body's fields (``run``,
``launch``, ``fleet launch``) and ``serve``'s options (the command line lists ``serve``;
``coven_trio.main`` parses it without loading the command line). argparse only."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._defaults import DEFAULT_EVE_MOUNT
from .vocabulary import LaunchMode


def serve_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``serve``'s options."""
    parser.add_argument(
        "--home", type=Path, default=None, help="daemon home (default: $COVEN_HOME or ~/.coven)"
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument("--log-format", default="text", choices=["text", "json"])
    parser.add_argument(
        "--eve-mount", default=DEFAULT_EVE_MOUNT, help="path prefix of the eve-compatible API"
    )
    parser.add_argument(
        "--store",
        default="sqlite",
        choices=["sqlite", "memory"],
        help="where sessions live: sqlite (survive restarts; the default) or memory",
    )
    parser.add_argument(
        "--http",
        metavar="HOST:PORT",
        help="also serve the web dashboard there (loopback; elsewhere only with TLS)",
    )
    return parser


def launch_options(parser: argparse.ArgumentParser, *, defaults: bool = True) -> None:
    """``--project-root``, ``--cwd``, ``--mode``, ``--model``, ``--title``, and the
    harness options as the API names them (``--permission-mode`` …)."""
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
        help="claude: ask = tool approvals come to the session's clients",
    )
    parser.add_argument("--sandbox", choices=["read-only", "workspace-write", "danger-full-access"])
    parser.add_argument("--approval", choices=["untrusted", "on-failure", "on-request", "never"])
    parser.add_argument("--worktree", action="store_true", help="work in a git worktree of its own")
    parser.add_argument(
        "--worktree-base", metavar="REF", help="the worktree from REF (default: HEAD)"
    )


def options_among_the_words(
    args: argparse.Namespace, more: Callable[[argparse.ArgumentParser], object] | None = None
) -> None:
    """``run claude --mode stream "fix it"``: flags after the harness name are flags
    (argparse would take them as prompt words); after ``--``, everything is a word.
    ``more`` adds the command's own flags (``--detach``, ``--timeout`` …)."""
    words = list(args.words)
    cut = words.index("--") if "--" in words else len(words)
    late = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    launch_options(late, defaults=False)
    late.add_argument("--json", action="store_true")
    if more is not None:
        more(late)
    _, rest = late.parse_known_args(words[:cut], namespace=args)
    args.words = rest + words[cut:]


def launch_body(args: argparse.Namespace) -> dict[str, Any]:
    """The ``POST /api/v1/sessions`` body the flags and words say (``command``: the words
    are its argv; else they are the prompt). Fields not given are left out."""
    words = list(args.words)
    if words[:1] == ["--"]:
        words = words[1:]
    command = words if args.harness == "command" else None
    body = {
        "projectRoot": args.project_root,
        "harness": args.harness,
        "prompt": None if command is not None else " ".join(words),
        "cwd": args.cwd,
        "launchMode": args.mode,
        "model": args.model,
        "title": args.title,
        "command": command,
        "permissionMode": args.permission_mode,
        "sandbox": args.sandbox,
        "approval": args.approval,
        "isolation": isolation(args),
    }
    return {k: v for k, v in body.items() if v}


def isolation(args: argparse.Namespace) -> Any:
    """``--worktree`` (from HEAD) or ``--worktree-base REF`` as the launch's ``isolation``."""
    base = getattr(args, "worktree_base", None)
    if base:
        return {"worktree": {"base": base}}
    return "worktree" if getattr(args, "worktree", False) else None
