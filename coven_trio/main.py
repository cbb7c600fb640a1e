"""The ``coven-trio`` program: the command line (:mod:`coven_trio.cli`), or — for
``serve`` — the daemon itself (:mod:`coven_trio._serve`). Each side is imported only
when it runs, so a client command never loads the daemon, and the command line's
package never imports the daemon's. ``fleet`` (:mod:`coven_trio.fleet.commands`) joins
the command line here, loaded only when it is asked for.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

Add = Callable[[str, Any, str], argparse.ArgumentParser]


def main(argv: Sequence[str] | None = None) -> int:
    import sys

    words = sys.argv[1:] if argv is None else list(argv)
    if words[:1] == ["serve"]:  # the daemon: its own few options, not the command line
        from ._flags import serve_options
        from ._serve import run as serve

        parser = serve_options(argparse.ArgumentParser(prog="coven-trio serve"))
        return serve(parser.parse_args(words[1:]))
    from .cli import parse, run

    return run(parse(argv, _fleet if "fleet" in words else _fleet_stub))


FLEET_HELP = "sessions of many hosts on NATS JetStream: fleet sessions | tail | launch"


def _fleet(add: Add, nested: argparse.ArgumentParser) -> None:
    from .fleet.commands import add_fleet_commands

    add_fleet_commands(add("fleet", None, FLEET_HELP), nested)


def _fleet_stub(add: Add, nested: argparse.ArgumentParser) -> None:
    """Listed in the help without loading the fleet's commands."""
    add("fleet", None, FLEET_HELP)
